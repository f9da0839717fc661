import type { VMRecord } from '../../model/observed.js';
import { describe, poolMarkedCandidates, referenceTo } from '../../export/context.js';
import { formatDuration, setIfPresent } from '../../export/values.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc, nameLabelSpec } from '../../export/manifest-doc.js';

/**
 * VM appliances with at least one member. Membership and start order live on the member VMs (order,
 * start_delay, shutdown_delay); the manifest lists them in start order.
 */
export const applianceExporter: KindExporter<'VM_appliance'> = {
  kind: 'VMAppliance',
  cls: 'VM_appliance',
  folder: 'appliances',
  select(ctx) {
    return poolMarkedCandidates(ctx, 'VM_appliance', (record) => {
      if ((record.VMs ?? []).length > 0) return true;
      ctx.notes.push({ severity: 'info', code: 'empty-appliance', message: `${describe('VM_appliance', record)} has no VMs, and an appliance manifest needs at least one member: not exported` });
      return false;
    });
  },
  build(ctx, chosen) {
    const rec = chosen.record;
    const spec: Record<string, unknown> = { ...nameLabelSpec(chosen) };
    setIfPresent(spec, 'description', rec.name_description);
    const members = rec.VMs.flatMap((ref) => {
      const vm = ctx.index.get('VM', ref);
      return vm ? [{ ref, vm }] : [];
    });
    members.sort((a, b) => a.vm.order - b.vm.order || a.vm.name_label.localeCompare(b.vm.name_label));
    // A member the export does not write (managed already, or VMs left out) is named as the live VM.
    spec.members = members.map(({ ref, vm }) => member(referenceTo(ctx, 'VM', ref) ?? vm.uuid, vm));
    return manifestDoc(chosen, spec);
  },
};

function member(vm: string, rec: VMRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { vm, startOrder: rec.order ?? 0 };
  if (rec.start_delay > 0) out.startDelay = formatDuration(rec.start_delay);
  if (rec.shutdown_delay > 0) out.shutdownDelay = formatDuration(rec.shutdown_delay);
  return out;
}
