import type { DesiredVMAppliance } from '../../model/desired.js';
import { NULL_REF, type Ref, type VMApplianceRecord, type VMRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { changedFields, desiredSpec, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, UnsupportedChangeError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { pendingName } from '../../apply/ownership.js';
import { PoolMarkedObjects } from '../../apply/pool-marks.js';
import { syncField, tryByUuid } from '../../apply/xapi.js';

/** A VMAppliance's desired spec as apply receives it: members' VMs possibly resolved to `{uuid}`. */
export interface ApplianceSpec extends Omit<DesiredVMAppliance['spec'], 'members'> {
  members: { vm: RefLike; startOrder: number; startDelay: number; shutdownDelay: number }[];
}

/** The appliance's marks, kept in the pool's other_config (VM_appliance has none). */
const marked = new PoolMarkedObjects('VM_appliance', 'appliance');

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

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<ApplianceSpec>(action);
  let app = await marked.find(ctx, action);
  if (!app) {
    app = await ctx.caller.callAsync<Ref>('VM_appliance.create', { name_label: pendingName(action.address), name_description: spec.description ?? '' });
    await marked.claimCreated(ctx, action, app);
  }
  await converge(ctx, action, app, spec, new Set(['nameLabel', 'description', 'members']));
  await marked.writeDigest(ctx, app, action);
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const app = await marked.find(ctx, action);
  if (!app) throw new ApplyError(action.address, 'the appliance to update does not exist');
  await marked.assertOwned(ctx, action, app);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!['nameLabel', 'description', 'members'].includes(f)) {
      throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of an appliance`);
    }
  }
  await converge(ctx, action, app, desiredSpec<ApplianceSpec>(action), fields);
  await marked.writeDigest(ctx, app, action);
}

/** Destroys the grouping (its VMs stay as they are) and the marks in the pool's other_config. */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  await marked.remove(ctx, action, async (app) => {
    for (const vm of await ctx.caller.call<Ref[]>('VM_appliance.get_VMs', app)) {
      await ctx.caller.callAsync('VM.set_appliance', vm, NULL_REF);
    }
  });
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
      return marked.adopt(ctx, action);
    case 'replace':
      await remove(ctx, action);
      return create(ctx, { ...action, objects: [] });
    default:
      throw new UnsupportedChangeError(action.address, `an appliance has no '${action.operation}' operation`);
  }
};
