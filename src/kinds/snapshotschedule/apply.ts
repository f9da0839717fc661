import type { DesiredSnapshotSchedule } from '../../model/desired.js';
import { NULL_REF, type Ref, type VMSSRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { poolMarkKeys } from '../../plan/ownership-marks.js';
import { changedFields, desiredSpec, specDigestOf, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, OwnershipError, UnsupportedChangeError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { marksOwner, pendingName } from '../../apply/ownership.js';
import { isXapiError, recordsByName, syncField, syncMapKeys, tryByUuid, tryRecord } from '../../apply/xapi.js';

/** A schedule's desired spec as apply receives it: its VMs possibly resolved to `{uuid}`. */
export interface ScheduleSpec extends Omit<DesiredSnapshotSchedule['spec'], 'vms' | 'selector'> {
  vms: RefLike[];
}

// VMSS has no other_config: its marks live in the pool's, under keys naming the schedule's uuid.
async function poolConfig(ctx: ApplyContext): Promise<[Ref, Record<string, string>]> {
  const [pool] = await ctx.lookup.pool();
  return [pool, await ctx.caller.call<Record<string, string>>('pool.get_other_config', pool)];
}

function owns(oc: Record<string, string>, uuid: string, address: string, repo: string | undefined): boolean {
  const keys = poolMarkKeys('VMSS', uuid);
  return marksOwner(oc[keys.managed], oc[keys.repo], address, repo);
}

async function mark(ctx: ApplyContext, uuid: string, address: string): Promise<void> {
  const [pool, oc] = await poolConfig(ctx);
  const keys = poolMarkKeys('VMSS', uuid);
  const marks: Record<string, string> = { [keys.managed]: address };
  if (ctx.repo !== undefined) marks[keys.repo] = ctx.repo;
  await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, marks);
}

/** The schedule for this address: the planned one, one the pool's marks name, or one left under the pending name. */
async function find(ctx: ApplyContext, action: Action): Promise<Ref | undefined> {
  const planned = action.objects.find((o) => o.cls === 'VMSS');
  if (planned && (await tryRecord(ctx.caller, 'VMSS', planned.ref))) return planned.ref;
  const [, oc] = await poolConfig(ctx);
  const prefix = poolMarkKeys('VMSS', '').managed;
  for (const [key, value] of Object.entries(oc)) {
    if (!key.startsWith(prefix) || value !== action.address) continue;
    const uuid = key.slice(prefix.length);
    if (!owns(oc, uuid, action.address, ctx.repo)) continue;
    const ref = await tryByUuid(ctx.caller, 'VMSS', uuid);
    if (ref) return ref;
  }
  const pending = await recordsByName<VMSSRecord>(ctx.caller, 'VMSS', pendingName(action.address));
  if (pending[0]) {
    await mark(ctx, pending[0][1].uuid, action.address);
    return pending[0][0];
  }
  return undefined;
}

async function assertOwned(ctx: ApplyContext, action: Action, vmss: Ref): Promise<string | undefined> {
  const uuid = await ctx.caller.call<string>('VMSS.get_uuid', vmss).catch((err: unknown) => {
    if (isXapiError(err, 'HANDLE_INVALID')) return undefined;
    throw err;
  });
  if (uuid === undefined) return undefined;
  const [, oc] = await poolConfig(ctx);
  if (!owns(oc, uuid, action.address, ctx.repo)) {
    const m = oc[poolMarkKeys('VMSS', uuid).managed];
    throw new OwnershipError(action.address, `refusing to change snapshot schedule ${uuid}: it is ${m ? `marked ${m}` : 'not marked by xops'}`);
  }
  return uuid;
}

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

async function writeDigest(ctx: ApplyContext, vmss: Ref, action: Action): Promise<void> {
  const digest = specDigestOf(action);
  if (digest === undefined) return;
  const uuid = await ctx.caller.call<string>('VMSS.get_uuid', vmss);
  const [pool, oc] = await poolConfig(ctx);
  await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, { [poolMarkKeys('VMSS', uuid).spec]: digest });
}

const ALL_FIELDS = ['nameLabel', 'description', 'enabled', 'type', 'frequency', 'schedule', 'retain', 'vms'];

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<ScheduleSpec>(action);
  let vmss = await find(ctx, action);
  if (!vmss) {
    vmss = await ctx.caller.callAsync<Ref>('VMSS.create', {
      name_label: pendingName(action.address), name_description: spec.description ?? '', enabled: spec.enabled,
      type: spec.type, retained_snapshots: spec.retain, frequency: spec.frequency, schedule: spec.schedule,
    });
    // A repeated create (reply lost, call resent) leaves a twin under the pending name: drop it.
    for (const [other] of await recordsByName<VMSSRecord>(ctx.caller, 'VMSS', pendingName(action.address))) {
      if (other !== vmss) await ctx.caller.callAsync('VMSS.destroy', other);
    }
    await mark(ctx, await ctx.caller.call<string>('VMSS.get_uuid', vmss), action.address);
  }
  await converge(ctx, action, vmss, spec, new Set(ALL_FIELDS));
  await writeDigest(ctx, vmss, action);
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const vmss = await find(ctx, action);
  if (!vmss) throw new ApplyError(action.address, 'the snapshot schedule to update does not exist');
  await assertOwned(ctx, action, vmss);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!ALL_FIELDS.includes(f)) throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of a snapshot schedule`);
  }
  await converge(ctx, action, vmss, desiredSpec<ScheduleSpec>(action), fields);
  await writeDigest(ctx, vmss, action);
}

/** Its VMs leave the schedule (XAPI refuses to destroy one with members: VMSS_HAS_VM), then it and its marks go. */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  const vmss = await find(ctx, action);
  let uuid = vmss ? await assertOwned(ctx, action, vmss) : undefined;
  if (vmss && uuid) {
    for (const vm of await ctx.caller.call<Ref[]>('VMSS.get_VMs', vmss)) await ctx.caller.call('VM.set_snapshot_schedule', vm, NULL_REF);
    try {
      await ctx.caller.callAsync('VMSS.destroy', vmss);
    } catch (err) {
      if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
    }
  }
  uuid ??= action.objects.find((o) => o.cls === 'VMSS')?.uuid;
  if (uuid) {
    const keys = poolMarkKeys('VMSS', uuid);
    const [pool, oc] = await poolConfig(ctx);
    if (oc[keys.managed] !== undefined && !owns(oc, uuid, action.address, ctx.repo)) return;
    await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, {}, [keys.managed, keys.repo, keys.spec]);
  }
}

async function adopt(ctx: ApplyContext, action: Action): Promise<void> {
  const target = action.objects.find((o) => o.cls === 'VMSS');
  if (!target) throw new UnsupportedChangeError(action.address, 'adopt action names no snapshot schedule');
  const [, oc] = await poolConfig(ctx);
  const m = oc[poolMarkKeys('VMSS', target.uuid).managed];
  if (m !== undefined && !owns(oc, target.uuid, action.address, ctx.repo)) {
    throw new OwnershipError(action.address, `refusing to adopt snapshot schedule ${target.uuid}: it is marked ${m}`);
  }
  await mark(ctx, target.uuid, action.address);
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
      return adopt(ctx, action);
    default:
      throw new UnsupportedChangeError(action.address, `a snapshot schedule has no '${action.operation}' operation`);
  }
};
