import type { DesiredVMGroup } from '../../model/desired.js';
import type { Ref, VMGroupRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { changedFields, desiredSpec, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, UnsupportedChangeError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { pendingName } from '../../apply/ownership.js';
import { PoolMarkedObjects } from '../../apply/pool-marks.js';
import { XAPI_PLACEMENT } from './plan.js';
import type { Spread } from './placement.js';
import { isXapiError, syncField, tryByUuid } from '../../apply/xapi.js';

/** A group's desired spec as apply receives it: its VMs possibly resolved to `{uuid}`. */
export interface GroupSpec extends Omit<DesiredVMGroup['spec'], 'vms' | 'selector'> {
  vms: RefLike[];
}

/** The VM group's marks, kept in the pool's other_config (VM_group has none). */
const marked = new PoolMarkedObjects('VM_group', 'VM group');

async function converge(ctx: ApplyContext, action: Action, group: Ref, spec: GroupSpec, fields: Set<string>): Promise<void> {
  const rec = await ctx.caller.call<VMGroupRecord>('VM_group.get_record', group);
  if (fields.has('nameLabel')) await syncField(ctx.caller, 'VM_group', group, 'name_label', rec.name_label, spec.nameLabel);
  if (fields.has('description')) await syncField(ctx.caller, 'VM_group', group, 'name_description', rec.name_description, spec.description ?? '');
  if (fields.has('vms')) {
    for (const m of spec.vms) {
      const vm = await ctx.lookup.resolve('VM', m, action.address);
      const groups = await ctx.caller.call<Ref[]>('VM.get_groups', vm);
      if (groups.length !== 1 || groups[0] !== group) await ctx.caller.callAsync('VM.set_groups', vm, [group]);
    }
    const leaving = action.details?.['removeMembers'];
    for (const uuid of Array.isArray(leaving) ? (leaving as string[]) : []) {
      const vm = await tryByUuid(ctx.caller, 'VM', uuid);
      if (vm && (await ctx.caller.call<Ref[]>('VM.get_groups', vm)).includes(group)) await ctx.caller.callAsync('VM.set_groups', vm, []);
    }
  }
}

/**
 * After members joined an anti-affinity group in this apply (VMs created in the same plan started before they
 * could join): members sharing a host move live to enabled hosts running none of the group, where the pool
 * accepts them (a refusal, e.g. HOST_NOT_ENOUGH_FREE_MEMORY, leaves the VM where it is for the next plan).
 */
async function spreadJoined(ctx: ApplyContext, group: Ref): Promise<void> {
  if ((await ctx.caller.call<string>('VM_group.get_placement', group)) !== 'anti_affinity') return;
  const members = await ctx.caller.call<Ref[]>('VM_group.get_VMs', group);
  const where = new Map<Ref, Ref[]>();
  for (const vm of members) {
    if ((await ctx.caller.call<string>('VM.get_power_state', vm)) !== 'Running') continue;
    const host = await ctx.caller.call<Ref>('VM.get_resident_on', vm);
    where.set(host, [...(where.get(host) ?? []), vm]);
  }
  const hosts = await ctx.caller.call<Ref[]>('host.get_all');
  const empty: Ref[] = [];
  for (const h of hosts) if (!where.has(h) && (await ctx.caller.call<boolean>('host.get_enabled', h))) empty.push(h);
  for (const vms of where.values()) {
    for (const vm of vms.slice(1)) {
      for (const [i, target] of empty.entries()) {
        try {
          await ctx.caller.callAsync('VM.pool_migrate', vm, target, { live: 'true' });
          empty.splice(i, 1);
          break;
        } catch (err) {
          if (!isXapiError(err, 'HOST_NOT_ENOUGH_FREE_MEMORY', 'VM_REQUIRES_SR', 'VM_REQUIRES_NETWORK', 'HOST_DISABLED')) throw err;
        }
      }
    }
  }
}

/** Carries out an anti-affinity spread: each planned member live-migrates to its host, if still where it was. */
async function spread(ctx: ApplyContext, action: Action): Promise<void> {
  for (const s of (action.details?.['spread'] as Spread[] | undefined) ?? []) {
    const vm = await tryByUuid(ctx.caller, 'VM', s.vm);
    const host = await tryByUuid(ctx.caller, 'host', s.host);
    if (!vm || !host || (await ctx.caller.call<string>('VM.get_power_state', vm)) !== 'Running') continue;
    await ctx.caller.callAsync('VM.pool_migrate', vm, host, { live: 'true' });
  }
}

const ALL_FIELDS = ['nameLabel', 'description', 'vms'];

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<GroupSpec>(action);
  let group = await marked.find(ctx, action);
  if (!group) {
    group = await ctx.caller.callAsync<Ref>('VM_group.create', { name_label: pendingName(action.address), name_description: spec.description ?? '', placement: XAPI_PLACEMENT[spec.placement] });
    await marked.claimCreated(ctx, action, group);
  }
  await converge(ctx, action, group, spec, new Set(ALL_FIELDS));
  await spreadJoined(ctx, group);
  await marked.writeDigest(ctx, group, action);
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const group = await marked.find(ctx, action);
  if (!group) throw new ApplyError(action.address, 'the VM group to update does not exist');
  await marked.assertOwned(ctx, action, group);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!ALL_FIELDS.includes(f)) throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of a VM group`);
  }
  await converge(ctx, action, group, desiredSpec<GroupSpec>(action), fields);
  if (fields.has('vms')) await spreadJoined(ctx, group);
  await marked.writeDigest(ctx, group, action);
}

/** The group goes (XAPI takes it off its VMs), then its marks. */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  await marked.remove(ctx, action);
}

/**
 * Applies one VMGroup action. The VM_group is created under the pending name, marked in the pool's
 * other_config, then renamed; VMs join with VM.set_groups; a spread live-migrates members.
 */
export const applyGroup: Applier = async (action, ctx) => {
  if (action.details?.['spread']) return spread(ctx, action);
  switch (action.operation) {
    case 'create':
      return create(ctx, action);
    case 'replace':
      await remove(ctx, action);
      return create(ctx, { ...action, objects: [] });
    case 'update':
      return update(ctx, action);
    case 'delete':
      return remove(ctx, action);
    case 'adopt':
      return marked.adopt(ctx, action);
    default:
      throw new UnsupportedChangeError(action.address, `a VM group has no '${action.operation}' operation`);
  }
};
