import type { DesiredSnapshotSchedule } from '../../model/desired.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import type { KindDefinition } from '../../manifests/build-context.js';

const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

interface ScheduleSpec {
  nameLabel?: string;
  description?: string;
  enabled?: boolean;
  type?: 'snapshot' | 'checkpoint';
  frequency: 'hourly' | 'daily' | 'weekly';
  at?: { minute?: number; hour?: number; days?: string[] };
  retain?: number;
  vms?: string[];
  selector?: { labels: Record<string, string> };
}

/**
 * A VM snapshot schedule (XAPI VMSS). `at` holds XAPI's schedule keys: `minute` (0, 15, 30 or 45), `hour`
 * (daily, weekly) and `days` (weekly); keys another frequency takes are refused, missing ones default to 0 /
 * Monday as XAPI's do (xen-api `ocaml/xapi/xapi_vmss.ml`).
 */
export const snapshotScheduleSchema: KindDefinition<DesiredSnapshotSchedule> = {
  kind: 'SnapshotSchedule',
  schemaFile: 'snapshotschedule.schema.json',
  schema: documentSchema(
    'SnapshotSchedule',
    'VM snapshots taken on a schedule, the oldest pruned',
    'A VM snapshot schedule (XAPI VMSS): the pool snapshots each member VM hourly, daily or weekly and keeps the newest `retain`.',
    closedObject(
      {
        nameLabel: { type: 'string', minLength: 1, description: 'name_label (default: metadata.name).' },
        description: { type: 'string', description: 'name_description.' },
        enabled: { type: 'boolean', default: true, description: 'false: the schedule is kept but takes no snapshots.' },
        type: { enum: ['snapshot', 'checkpoint'], default: 'snapshot', description: 'snapshot: disks; checkpoint: disks and memory.' },
        frequency: { enum: ['hourly', 'daily', 'weekly'] },
        at: closedObject({
          minute: { enum: [0, 15, 30, 45], description: 'Minute past the hour (default 0).' },
          hour: { type: 'integer', minimum: 0, maximum: 23, description: 'Hour of the day, pool time (daily, weekly; default 0).' },
          days: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: DAYS }, description: 'Days of the week (weekly; default Monday).' },
        }),
        retain: { type: 'integer', minimum: 1, maximum: 10, default: 7, description: 'Scheduled snapshots kept per VM (VMSS retained_snapshots).' },
        vms: { type: 'array', maxItems: 10000, items: ref('reference', 'A VM manifest name, or an existing VM\'s name_label or uuid.') },
        selector: closedObject({ labels: { type: 'object', additionalProperties: { type: 'string' }, minProperties: 1 } }, ['labels']),
      },
      ['frequency'],
    ),
  ),
  build(raw, meta, ctx) {
    const spec = raw as unknown as ScheduleSpec;
    const at = spec.at ?? {};
    const schedule: Record<string, string> = { min: String(at.minute ?? 0) };
    if (spec.frequency === 'hourly' && at.hour !== undefined) ctx.error('spec.at.hour', 'an hourly schedule takes no hour', 'schedule-key');
    if (spec.frequency !== 'weekly' && at.days !== undefined) ctx.error('spec.at.days', `a ${spec.frequency} schedule takes no days`, 'schedule-key');
    if (spec.frequency !== 'hourly') schedule.hour = String(at.hour ?? 0);
    // XAPI keeps days in week order whatever order they were given in.
    if (spec.frequency === 'weekly') schedule.days = DAYS.filter((d) => (at.days ?? ['Monday']).includes(d)).join(',');
    const seen = new Set<string>();
    const vms = (spec.vms ?? []).map((name, i) => {
      if (seen.has(name)) ctx.error(`spec.vms[${i}]`, `VM '${name}' is listed twice`, 'duplicate-name');
      seen.add(name);
      return ctx.ref('VM', name, `spec.vms[${i}]`);
    });
    if (vms.length === 0 && !spec.selector) ctx.warn('spec', 'the schedule names no VMs and has no selector: it covers nothing', 'empty-schedule');
    return {
      kind: 'SnapshotSchedule',
      meta,
      spec: {
        nameLabel: spec.nameLabel ?? meta.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        enabled: spec.enabled ?? true,
        type: spec.type ?? 'snapshot',
        frequency: spec.frequency,
        schedule,
        retain: spec.retain ?? 7,
        vms,
        ...(spec.selector ? { selector: { labels: spec.selector.labels } } : {}),
      },
    };
  },
};
