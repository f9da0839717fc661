import type { DesiredVMAppliance } from '../../model/desired.js';
import { NULL_REF, type Ref, type VMApplianceRecord, type VMRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { applianceMarkKeys } from '../../plan/ownership-marks.js';
import { changedFields, desiredSpec, specDigestOf, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, OwnershipError, UnsupportedChangeError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { marksOwner, pendingName } from '../../apply/ownership.js';
import { isXapiError, recordsByName, syncField, syncMapKeys, tryByUuid, tryRecord } from '../../apply/xapi.js';

/** A VMAppliance's desired spec as apply receives it: members' VMs possibly resolved to `{uuid}`. */
export interface ApplianceSpec extends Omit<DesiredVMAppliance['spec'], 'members'> {
  members: { vm: RefLike; startOrder: number; startDelay: number; shutdownDelay: number }[];
}

/**
 * VM_appliance has no other_config: its marks live in the pool's other_config under keys naming the
 * appliance's uuid (see applianceMarkKeys). These helpers read and write them.
 */
async function poolConfig(ctx: ApplyContext): Promise<[Ref, Record<string, string>]> {
  const [pool] = await ctx.lookup.pool();
  return [pool, await ctx.caller.call<Record<string, string>>('pool.get_other_config', pool)];
}

function ownsAppliance(oc: Record<string, string>, uuid: string, address: string, repo: string | undefined): boolean {
  const keys = applianceMarkKeys(uuid);
  return marksOwner(oc[keys.managed], oc[keys.repo], address, repo);
}

async function markAppliance(ctx: ApplyContext, uuid: string, address: string): Promise<void> {
  const [pool, oc] = await poolConfig(ctx);
  const keys = applianceMarkKeys(uuid);
  const marks: Record<string, string> = { [keys.managed]: address };
  if (ctx.repo !== undefined) marks[keys.repo] = ctx.repo;
  await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, marks);
}

/**
 * The appliance for this address: the planned object, one whose uuid the pool's marks name, or one
 * left under the pending name by an interrupted create (marked here, so it is finished, not duplicated).
 */
async function findAppliance(ctx: ApplyContext, action: Action): Promise<Ref | undefined> {
  const planned = action.objects.find((o) => o.cls === 'VM_appliance');
  if (planned && (await tryRecord(ctx.caller, 'VM_appliance', planned.ref))) return planned.ref;
  const [, oc] = await poolConfig(ctx);
  const prefix = applianceMarkKeys('').managed;
  for (const [key, value] of Object.entries(oc)) {
    if (!key.startsWith(prefix) || value !== action.address) continue;
    const uuid = key.slice(prefix.length);
    if (!ownsAppliance(oc, uuid, action.address, ctx.repo)) continue;
    const ref = await tryByUuid(ctx.caller, 'VM_appliance', uuid);
    if (ref) return ref;
  }
  const pending = await recordsByName<VMApplianceRecord>(ctx.caller, 'VM_appliance', pendingName(action.address));
  if (pending[0]) {
    await markAppliance(ctx, pending[0][1].uuid, action.address);
    return pending[0][0];
  }
  return undefined;
}

async function assertOwnedAppliance(ctx: ApplyContext, action: Action, app: Ref): Promise<string | undefined> {
  const uuid = await ctx.caller.call<string>('VM_appliance.get_uuid', app).catch((err: unknown) => {
    if (isXapiError(err, 'HANDLE_INVALID')) return undefined;
    throw err;
  });
  if (uuid === undefined) return undefined;
  const [, oc] = await poolConfig(ctx);
  if (!ownsAppliance(oc, uuid, action.address, ctx.repo)) {
    const mark = oc[applianceMarkKeys(uuid).managed];
    throw new OwnershipError(action.address, `refusing to change appliance ${uuid}: it is ${mark ? `marked ${mark}` : 'not marked by xops'}`);
  }
  return uuid;
}

/** Members join (VM.set_appliance) with their start order and delays; `removeMembers` (VM uuids) leave. */
async function convergeMembers(ctx: ApplyContext, action: Action, app: Ref, spec: ApplianceSpec): Promise<void> {
  for (const m of spec.members) {
    const vm = await ctx.lookup.resolve('VM', m.vm, action.address);
    const rec = await ctx.caller.call<VMRecord>('VM.get_record', vm);
    if (rec.appliance !== app) await ctx.caller.callAsync('VM.set_appliance', vm, app);
    await syncField(ctx.caller, 'VM', vm, 'order', Number(rec.order), m.startOrder);
    await syncField(ctx.caller, 'VM', vm, 'start_delay', Number(rec.start_delay), m.startDelay);
    await syncField(ctx.caller, 'VM', vm, 'shutdown_delay', Number(rec.shutdown_delay), m.shutdownDelay);
  }
  const leaving = action.details?.['removeMembers'];
  for (const uuid of Array.isArray(leaving) ? (leaving as string[]) : []) {
    const vm = await tryByUuid(ctx.caller, 'VM', uuid);
    if (vm && (await ctx.caller.call<Ref>('VM.get_appliance', vm)) === app) await ctx.caller.callAsync('VM.set_appliance', vm, NULL_REF);
  }
}

async function converge(ctx: ApplyContext, action: Action, app: Ref, spec: ApplianceSpec, fields: Set<string>): Promise<void> {
  const rec = await ctx.caller.call<VMApplianceRecord>('VM_appliance.get_record', app);
  if (fields.has('nameLabel')) await syncField(ctx.caller, 'VM_appliance', app, 'name_label', rec.name_label, spec.nameLabel);
  if (fields.has('description')) await syncField(ctx.caller, 'VM_appliance', app, 'name_description', rec.name_description, spec.description ?? '');
  if (fields.has('members')) await convergeMembers(ctx, action, app, spec);
}

async function writeDigest(ctx: ApplyContext, app: Ref, action: Action): Promise<void> {
  const digest = specDigestOf(action);
  if (digest === undefined) return;
  const uuid = await ctx.caller.call<string>('VM_appliance.get_uuid', app);
  const [pool, oc] = await poolConfig(ctx);
  await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, { [applianceMarkKeys(uuid).spec]: digest });
}

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<ApplianceSpec>(action);
  let app = await findAppliance(ctx, action);
  if (!app) {
    app = await ctx.caller.callAsync<Ref>('VM_appliance.create', { name_label: pendingName(action.address), name_description: spec.description ?? '' });
    // A repeated create (reply lost, call resent) leaves a twin under the pending name: drop it.
    for (const [other] of await recordsByName<VMApplianceRecord>(ctx.caller, 'VM_appliance', pendingName(action.address))) {
      if (other !== app) await ctx.caller.callAsync('VM_appliance.destroy', other);
    }
    await markAppliance(ctx, await ctx.caller.call<string>('VM_appliance.get_uuid', app), action.address);
  }
  await converge(ctx, action, app, spec, new Set(['nameLabel', 'description', 'members']));
  await writeDigest(ctx, app, action);
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const app = await findAppliance(ctx, action);
  if (!app) throw new ApplyError(action.address, 'the appliance to update does not exist');
  await assertOwnedAppliance(ctx, action, app);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!['nameLabel', 'description', 'members'].includes(f)) {
      throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of an appliance`);
    }
  }
  await converge(ctx, action, app, desiredSpec<ApplianceSpec>(action), fields);
  await writeDigest(ctx, app, action);
}

/** Destroys the grouping (its VMs stay as they are) and the marks in the pool's other_config. */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  const app = await findAppliance(ctx, action);
  let uuid = app ? await assertOwnedAppliance(ctx, action, app) : undefined;
  if (app && uuid) {
    for (const vm of await ctx.caller.call<Ref[]>('VM_appliance.get_VMs', app)) {
      await ctx.caller.callAsync('VM.set_appliance', vm, NULL_REF);
    }
    try {
      await ctx.caller.callAsync('VM_appliance.destroy', app);
    } catch (err) {
      if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
    }
  }
  // Marks left behind by a delete that crashed after the destroy.
  uuid ??= action.objects.find((o) => o.cls === 'VM_appliance')?.uuid;
  if (uuid) {
    const keys = applianceMarkKeys(uuid);
    const [pool, oc] = await poolConfig(ctx);
    if (oc[keys.managed] !== undefined && !ownsAppliance(oc, uuid, action.address, ctx.repo)) return;
    await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, {}, [keys.managed, keys.repo, keys.spec]);
  }
}

async function adopt(ctx: ApplyContext, action: Action): Promise<void> {
  const target = action.objects.find((o) => o.cls === 'VM_appliance');
  if (!target) throw new UnsupportedChangeError(action.address, 'adopt action names no appliance');
  const [, oc] = await poolConfig(ctx);
  const mark = oc[applianceMarkKeys(target.uuid).managed];
  if (mark !== undefined && !ownsAppliance(oc, target.uuid, action.address, ctx.repo)) {
    throw new OwnershipError(action.address, `refusing to adopt appliance ${target.uuid}: it is marked ${mark}`);
  }
  await markAppliance(ctx, target.uuid, action.address);
}

/**
 * Applies one VMAppliance action. The appliance is created under the pending name, marked in the
 * pool's other_config, then renamed; members join through VM.set_appliance with their start order.
 */
export const applyVMAppliance: Applier = async (action, ctx) => {
  switch (action.operation) {
    case 'create':
      return create(ctx, action);
    case 'update':
      return update(ctx, action);
    case 'delete':
      return remove(ctx, action);
    case 'adopt':
      return adopt(ctx, action);
    case 'replace':
      await remove(ctx, action);
      return create(ctx, { ...action, objects: [] });
    default:
      throw new UnsupportedChangeError(action.address, `an appliance has no '${action.operation}' operation`);
  }
};
