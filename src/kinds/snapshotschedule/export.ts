import { describe, poolMarkedCandidates, referenceTo } from '../../export/context.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc, nameLabelSpec } from '../../export/manifest-doc.js';

/** Snapshot types a SnapshotSchedule can declare (XAPI also has snapshot_with_quiesce, for Windows VSS only). */
const TYPES = new Set(['snapshot', 'checkpoint']);
const FREQUENCIES = new Set(['hourly', 'daily', 'weekly']);
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/**
 * VM snapshot schedules (VMSS) with what the schema can declare: the schedule keys become `at` (XAPI's
 * defaults, minute 0, hour 0, Monday, are written too: they are what the pool does), and the member VMs
 * by reference. A schedule of a type or frequency the schema has no word for is left out with a note.
 */
export const scheduleExporter: KindExporter<'VMSS'> = {
  kind: 'SnapshotSchedule',
  cls: 'VMSS',
  folder: 'automation',
  select(ctx) {
    return poolMarkedCandidates(ctx, 'VMSS', (record) => {
      if (TYPES.has(record.type) && FREQUENCIES.has(record.frequency)) return true;
      ctx.notes.push({ severity: 'warning', code: 'unsupported-schedule', message: `${describe('VMSS', record)} is a ${record.frequency} ${record.type} schedule, which a SnapshotSchedule cannot declare (types: snapshot, checkpoint): not exported` });
      return false;
    });
  },
  build(ctx, chosen) {
    const rec = chosen.record;
    const spec: Record<string, unknown> = { ...nameLabelSpec(chosen) };
    if (rec.name_description) spec.description = rec.name_description;
    if (rec.enabled === false) spec.enabled = false;
    spec.type = rec.type;
    spec.frequency = rec.frequency;
    const at: Record<string, unknown> = { minute: Number(rec.schedule?.['min'] ?? 0) };
    if (rec.frequency !== 'hourly') at.hour = Number(rec.schedule?.['hour'] ?? 0);
    if (rec.frequency === 'weekly') {
      const given = String(rec.schedule?.['days'] ?? 'Monday').split(',').map((d) => d.trim().toLowerCase());
      at.days = DAYS.filter((d) => given.includes(d.toLowerCase()));
    }
    spec.at = at;
    spec.retain = Number(rec.retained_snapshots);
    // A member the export does not write (managed already, or VMs left out) is named as the live VM.
    spec.vms = (rec.VMs ?? []).flatMap((ref) => {
      const vm = ctx.index.get('VM', ref);
      return vm ? [referenceTo(ctx, 'VM', ref) ?? vm.uuid] : [];
    }).sort();
    return manifestDoc(chosen, spec);
  },
};
