import type { DesiredSnapshotSchedule } from '../../model/desired.js';
import { NULL_REF, type Ref, type VMSSRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { changedFields, desiredSpec, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, UnsupportedChangeError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { pendingName } from '../../apply/ownership.js';
import { PoolMarkedObjects } from '../../apply/pool-marks.js';
import { syncField, tryByUuid } from '../../apply/xapi.js';

/** A schedule's desired spec as apply receives it: its VMs possibly resolved to `{uuid}`. */
export interface ScheduleSpec extends Omit<DesiredSnapshotSchedule['spec'], 'vms' | 'selector'> {
  vms: RefLike[];
}

/** The snapshot schedule's marks, kept in the pool's other_config (VMSS has none). */
const marked = new PoolMarkedObjects('VMSS', 'snapshot schedule');

async function converge(ctx: ApplyContext, action: Action, vmss: Ref, spec: ScheduleSpec, fields: Set<string>): Promise<void> {
  const rec = await ctx.caller.call<VMSSRecord>('VMSS.get_record', vmss);
  if (fields.has('nameLabel')) await syncField(ctx.caller, 'VMSS', vmss, 'name_label', rec.name_label, spec.nameLabel);
  if (fields.has('description')) await syncField(ctx.caller, 'VMSS', vmss, 'name_description', rec.name_description, spec.description ?? '');
  if (fields.has('enabled')) await syncField(ctx.caller, 'VMSS', vmss, 'enabled', rec.enabled, spec.enabled);
  if (fields.has('type')) await syncField(ctx.caller, 'VMSS', vmss, 'type', rec.type, spec.type);
  // set_frequency keeps the keys the new frequency shares and defaults the rest; the full map follows.
  if (fields.has('frequency') && rec.frequency !== spec.frequency) await ctx.caller.call('VMSS.set_frequency', vmss, spec.frequency);
  if (fields.has('frequency') || fields.has('schedule')) await ctx.caller.call('VMSS.set_schedule', vmss, spec.schedule);
  if (fields.has('retain')) await syncField(ctx.caller, 'VMSS', vmss, 'retained_snapshots', Number(rec.retained_snapshots), spec.retain);
  if (fields.has('vms')) {
    for (const m of spec.vms) {
      const vm = await ctx.lookup.resolve('VM', m, action.address);
      if ((await ctx.caller.call<Ref>('VM.get_snapshot_schedule', vm)) !== vmss) await ctx.caller.call('VM.set_snapshot_schedule', vm, vmss);
    }
    const leaving = action.details?.['removeMembers'];
    for (const uuid of Array.isArray(leaving) ? (leaving as string[]) : []) {
      const vm = await tryByUuid(ctx.caller, 'VM', uuid);
      if (vm && (await ctx.caller.call<Ref>('VM.get_snapshot_schedule', vm)) === vmss) await ctx.caller.call('VM.set_snapshot_schedule', vm, NULL_REF);
    }
  }
}

const ALL_FIELDS = ['nameLabel', 'description', 'enabled', 'type', 'frequency', 'schedule', 'retain', 'vms'];

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<ScheduleSpec>(action);
  let vmss = await marked.find(ctx, action);
  if (!vmss) {
    vmss = await ctx.caller.callAsync<Ref>('VMSS.create', {
      name_label: pendingName(action.address), name_description: spec.description ?? '', enabled: spec.enabled,
      type: spec.type, retained_snapshots: spec.retain, frequency: spec.frequency, schedule: spec.schedule,
    });
    await marked.claimCreated(ctx, action, vmss);
  }
  await converge(ctx, action, vmss, spec, new Set(ALL_FIELDS));
  await marked.writeDigest(ctx, vmss, action);
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const vmss = await marked.find(ctx, action);
  if (!vmss) throw new ApplyError(action.address, 'the snapshot schedule to update does not exist');
  await marked.assertOwned(ctx, action, vmss);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!ALL_FIELDS.includes(f)) throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of a snapshot schedule`);
  }
  await converge(ctx, action, vmss, desiredSpec<ScheduleSpec>(action), fields);
  await marked.writeDigest(ctx, vmss, action);
}

/** Its VMs leave the schedule (XAPI refuses to destroy one with members: VMSS_HAS_VM), then it and its marks go. */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  await marked.remove(ctx, action, async (vmss) => {
    for (const vm of await ctx.caller.call<Ref[]>('VMSS.get_VMs', vmss)) await ctx.caller.call('VM.set_snapshot_schedule', vm, NULL_REF);
  });
}

/**
 * Applies one SnapshotSchedule action. The VMSS is created under the pending name, marked in the pool's
 * other_config, then renamed; VMs join with VM.set_snapshot_schedule.
 */
export const applySchedule: Applier = async (action, ctx) => {
  switch (action.operation) {
    case 'create':
      return create(ctx, action);
    case 'update':
      return update(ctx, action);
    case 'delete':
      return remove(ctx, action);
    case 'adopt':
      return marked.adopt(ctx, action);
    default:
      throw new UnsupportedChangeError(action.address, `a snapshot schedule has no '${action.operation}' operation`);
  }
};
