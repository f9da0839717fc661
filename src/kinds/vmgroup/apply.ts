import type { DesiredVMGroup } from '../../model/desired.js';
import type { Ref, VMGroupRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { poolMarkKeys } from '../../plan/ownership-marks.js';
import { changedFields, desiredSpec, specDigestOf, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, OwnershipError, UnsupportedChangeError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { marksOwner, pendingName } from '../../apply/ownership.js';
import { XAPI_PLACEMENT } from './plan.js';
import type { Spread } from './placement.js';
import { isXapiError, recordsByName, syncField, syncMapKeys, tryByUuid, tryRecord } from '../../apply/xapi.js';

/** A group's desired spec as apply receives it: its VMs possibly resolved to `{uuid}`. */
export interface GroupSpec extends Omit<DesiredVMGroup['spec'], 'vms' | 'selector'> {
  vms: RefLike[];
}

// VM_group has no other_config: its marks live in the pool's, under keys naming the group's uuid.
async function poolConfig(ctx: ApplyContext): Promise<[Ref, Record<string, string>]> {
  const [pool] = await ctx.lookup.pool();
  return [pool, await ctx.caller.call<Record<string, string>>('pool.get_other_config', pool)];
}

function owns(oc: Record<string, string>, uuid: string, address: string, repo: string | undefined): boolean {
  const keys = poolMarkKeys('VM_group', uuid);
  return marksOwner(oc[keys.managed], oc[keys.repo], address, repo);
}

async function mark(ctx: ApplyContext, uuid: string, address: string): Promise<void> {
  const [pool, oc] = await poolConfig(ctx);
  const keys = poolMarkKeys('VM_group', uuid);
  const marks: Record<string, string> = { [keys.managed]: address };
  if (ctx.repo !== undefined) marks[keys.repo] = ctx.repo;
  await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, marks);
}

/** The group for this address: the planned one, one the pool's marks name, or one left under the pending name. */
async function find(ctx: ApplyContext, action: Action): Promise<Ref | undefined> {
  const planned = action.objects.find((o) => o.cls === 'VM_group');
  if (planned && (await tryRecord(ctx.caller, 'VM_group', planned.ref))) return planned.ref;
  const [, oc] = await poolConfig(ctx);
  const prefix = poolMarkKeys('VM_group', '').managed;
  for (const [key, value] of Object.entries(oc)) {
    if (!key.startsWith(prefix) || value !== action.address) continue;
    const uuid = key.slice(prefix.length);
    if (!owns(oc, uuid, action.address, ctx.repo)) continue;
    const ref = await tryByUuid(ctx.caller, 'VM_group', uuid);
    if (ref) return ref;
  }
  const pending = await recordsByName<VMGroupRecord>(ctx.caller, 'VM_group', pendingName(action.address));
  if (pending[0]) {
    await mark(ctx, pending[0][1].uuid, action.address);
    return pending[0][0];
  }
  return undefined;
}

async function assertOwned(ctx: ApplyContext, action: Action, group: Ref): Promise<string | undefined> {
  const uuid = await ctx.caller.call<string>('VM_group.get_uuid', group).catch((err: unknown) => {
    if (isXapiError(err, 'HANDLE_INVALID')) return undefined;
    throw err;
  });
  if (uuid === undefined) return undefined;
  const [, oc] = await poolConfig(ctx);
  if (!owns(oc, uuid, action.address, ctx.repo)) {
    const m = oc[poolMarkKeys('VM_group', uuid).managed];
    throw new OwnershipError(action.address, `refusing to change VM group ${uuid}: it is ${m ? `marked ${m}` : 'not marked by xops'}`);
  }
  return uuid;
}

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

async function writeDigest(ctx: ApplyContext, group: Ref, action: Action): Promise<void> {
  const digest = specDigestOf(action);
  if (digest === undefined) return;
  const uuid = await ctx.caller.call<string>('VM_group.get_uuid', group);
  const [pool, oc] = await poolConfig(ctx);
  await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, { [poolMarkKeys('VM_group', uuid).spec]: digest });
}

const ALL_FIELDS = ['nameLabel', 'description', 'vms'];

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<GroupSpec>(action);
  let group = await find(ctx, action);
  if (!group) {
    group = await ctx.caller.callAsync<Ref>('VM_group.create', { name_label: pendingName(action.address), name_description: spec.description ?? '', placement: XAPI_PLACEMENT[spec.placement] });
    // A repeated create (reply lost, call resent) leaves a twin under the pending name: drop it.
    for (const [other] of await recordsByName<VMGroupRecord>(ctx.caller, 'VM_group', pendingName(action.address))) {
      if (other !== group) await ctx.caller.callAsync('VM_group.destroy', other);
    }
    await mark(ctx, await ctx.caller.call<string>('VM_group.get_uuid', group), action.address);
  }
  await converge(ctx, action, group, spec, new Set(ALL_FIELDS));
  await spreadJoined(ctx, group);
  await writeDigest(ctx, group, action);
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const group = await find(ctx, action);
  if (!group) throw new ApplyError(action.address, 'the VM group to update does not exist');
  await assertOwned(ctx, action, group);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!ALL_FIELDS.includes(f)) throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of a VM group`);
  }
  await converge(ctx, action, group, desiredSpec<GroupSpec>(action), fields);
  if (fields.has('vms')) await spreadJoined(ctx, group);
  await writeDigest(ctx, group, action);
}

/** The group goes (XAPI takes it off its VMs), then its marks. */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  const group = await find(ctx, action);
  let uuid = group ? await assertOwned(ctx, action, group) : undefined;
  if (group && uuid) {
    try {
      await ctx.caller.callAsync('VM_group.destroy', group);
    } catch (err) {
      if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
    }
  }
  uuid ??= action.objects.find((o) => o.cls === 'VM_group')?.uuid;
  if (uuid) {
    const keys = poolMarkKeys('VM_group', uuid);
    const [pool, oc] = await poolConfig(ctx);
    if (oc[keys.managed] !== undefined && !owns(oc, uuid, action.address, ctx.repo)) return;
    await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, {}, [keys.managed, keys.repo, keys.spec]);
  }
}

async function adopt(ctx: ApplyContext, action: Action): Promise<void> {
  const target = action.objects.find((o) => o.cls === 'VM_group');
  if (!target) throw new UnsupportedChangeError(action.address, 'adopt action names no VM group');
  const [, oc] = await poolConfig(ctx);
  const m = oc[poolMarkKeys('VM_group', target.uuid).managed];
  if (m !== undefined && !owns(oc, target.uuid, action.address, ctx.repo)) {
    throw new OwnershipError(action.address, `refusing to adopt VM group ${target.uuid}: it is marked ${m}`);
  }
  await mark(ctx, target.uuid, action.address);
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
      return adopt(ctx, action);
    default:
      throw new UnsupportedChangeError(action.address, `a VM group has no '${action.operation}' operation`);
  }
};
