import type { DesiredNetwork } from '../../model/desired.js';
import { NULL_REF, type NetworkRecord, type PIFRecord, type Ref } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { adoptObject } from '../../apply/adopt.js';
import { changedFields, desiredSpec, removedConfigKeys, specDigestOf, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, UnsupportedChangeError } from '../../apply/errors.js';
import { assertOwned, ownershipMarks, writeSpecDigest } from '../../apply/ownership.js';
import { allRecords, isXapiError, syncField, syncMapKeys, syncSet, tryRecord } from '../../apply/xapi.js';

/** A Network's desired spec as apply receives it in `action.desired`. */
export type NetworkSpec = DesiredNetwork['spec'];

const UPDATABLE = new Set(['nameLabel', 'description', 'mtu', 'tags', 'otherConfig', 'vlan', 'bond']);

type BondRecord = { master: Ref; slaves: Ref[]; mode: string };

/** The network marked for this address, if any (network.create writes the mark, so no pending name). */
async function findNetwork(ctx: ApplyContext, action: Action): Promise<Ref | undefined> {
  const planned = action.objects.find((o) => o.cls === 'network');
  if (planned && (await tryRecord(ctx.caller, 'network', planned.ref))) return planned.ref;
  const owned = await ctx.lookup.managed<NetworkRecord>('network', action.address);
  if (owned.length > 1) throw new ApplyError(action.address, `${owned.length} networks carry this resource's mark`);
  return owned[0]?.[0];
}

/**
 * Makes sure every host has a PIF on the network: a VLAN on the host's PIF with the declared
 * device, or a bond over the declared devices. A host that already has one is left alone.
 */
async function convergeHostPifs(ctx: ApplyContext, action: Action, network: Ref, spec: NetworkSpec): Promise<void> {
  if (!spec.vlan && !spec.bond) return;
  const pifs = await allRecords<PIFRecord>(ctx.caller, 'PIF');
  const connected = new Set(pifs.filter(([, p]) => p.network === network).map(([, p]) => p.host));
  for (const [host, hostRec] of await ctx.lookup.hosts()) {
    if (connected.has(host)) continue;
    // The untagged, unbonded base PIFs of this host, by device name.
    const base = pifs.filter(([, p]) => p.host === host && Number(p.VLAN) === -1 && (p.bond_slave_of === NULL_REF || !p.bond_slave_of));
    try {
      if (spec.vlan) {
        const pif = base.find(([, p]) => p.device === spec.vlan!.device);
        if (!pif) throw new ApplyError(action.address, `host ${hostRec.name_label} has no PIF ${spec.vlan.device}`);
        await ctx.caller.callAsync('VLAN.create', pif[0], spec.vlan.tag, network);
      } else if (spec.bond) {
        const members = spec.bond.devices.map((dev) => {
          const pif = base.find(([, p]) => p.device === dev);
          if (!pif) throw new ApplyError(action.address, `host ${hostRec.name_label} has no free PIF ${dev} to bond`);
          return pif[0];
        });
        await ctx.caller.callAsync('Bond.create', network, members, '', spec.bond.mode, {});
      }
    } catch (err) {
      // A VLAN or bond created by an attempt whose reply was lost.
      if (!isXapiError(err, 'NETWORK_ALREADY_CONNECTED', 'PIF_VLAN_EXISTS')) throw err;
    }
  }
}

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<NetworkSpec>(action);
  let network = await findNetwork(ctx, action);
  if (!network) {
    network = await ctx.caller.callAsync<Ref>('network.create', {
      name_label: spec.nameLabel,
      name_description: spec.description ?? '',
      MTU: spec.mtu ?? 1500,
      other_config: { ...(spec.otherConfig ?? {}), ...ownershipMarks(ctx, action.address) },
      tags: spec.tags ?? [],
    });
    // A client that repeats a write whose reply was lost leaves a second, empty copy: drop it.
    for (const [ref, rec] of await ctx.lookup.managed<NetworkRecord>('network', action.address)) {
      if (ref !== network && rec.PIFs.length === 0 && rec.VIFs.length === 0) await ctx.caller.callAsync('network.destroy', ref);
    }
  }
  await converge(ctx, action, network, spec, new Set(UPDATABLE));
  const oc = await ctx.caller.call<Record<string, string>>('network.get_other_config', network);
  await writeSpecDigest(ctx, 'network', network, oc, specDigestOf(action));
}

async function converge(ctx: ApplyContext, action: Action, network: Ref, spec: NetworkSpec, fields: Set<string>): Promise<void> {
  const rec = await ctx.caller.call<NetworkRecord>('network.get_record', network);
  if (fields.has('nameLabel')) await syncField(ctx.caller, 'network', network, 'name_label', rec.name_label, spec.nameLabel);
  if (fields.has('description')) await syncField(ctx.caller, 'network', network, 'name_description', rec.name_description, spec.description ?? '');
  if (fields.has('mtu') && spec.mtu !== undefined && Number(rec.MTU) !== spec.mtu) await ctx.caller.call('network.set_MTU', network, spec.mtu);
  if (fields.has('tags')) await syncSet(ctx.caller, 'network', network, 'tags', rec.tags, spec.tags ?? []);
  if (fields.has('otherConfig')) {
    await syncMapKeys(ctx.caller, 'network', network, 'other_config', rec.other_config, spec.otherConfig ?? {}, removedConfigKeys(action));
  }
  if (fields.has('vlan') || fields.has('bond')) await convergeHostPifs(ctx, action, network, spec);
  if (fields.has('bond') && spec.bond) {
    // Bond members cannot change in place (that is a replace), but the mode can (Bond.set_mode).
    for (const [, pif] of (await allRecords<PIFRecord>(ctx.caller, 'PIF')).filter(([, p]) => p.network === network)) {
      for (const bond of pif.bond_master_of ?? []) {
        const rec = await tryRecord<BondRecord>(ctx.caller, 'Bond', bond);
        if (rec && rec.mode !== spec.bond.mode) await ctx.caller.callAsync('Bond.set_mode', bond, spec.bond.mode);
      }
    }
  }
}

/** Destroys the VLAN and bond PIFs that carry the network on the hosts; the network object stays. */
async function removeCarriers(ctx: ApplyContext, network: Ref): Promise<void> {
  const pifs = (await allRecords<PIFRecord>(ctx.caller, 'PIF')).filter(([, p]) => p.network === network);
  for (const [, pif] of pifs) {
    try {
      if (pif.VLAN_master_of && pif.VLAN_master_of !== NULL_REF) await ctx.caller.callAsync('VLAN.destroy', pif.VLAN_master_of);
      for (const bond of pif.bond_master_of ?? []) await ctx.caller.callAsync('Bond.destroy', bond);
    } catch (err) {
      if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
    }
  }
}

/**
 * A replace keeps the network object (VIFs stay on it) and re-creates what carries it: the VLAN
 * (new tag or device) or the bond (new members). Carriers that already match the spec are kept, so
 * a replace that crashed half-way resumes where it stopped.
 */
async function replaceCarriers(ctx: ApplyContext, action: Action): Promise<void> {
  const network = await findNetwork(ctx, action);
  if (!network) throw new ApplyError(action.address, 'the network whose VLAN/bond is re-created does not exist');
  const oc = await assertOwned(ctx, 'network', network, action.address);
  const spec = desiredSpec<NetworkSpec>(action);
  const pifs = (await allRecords<PIFRecord>(ctx.caller, 'PIF')).filter(([, p]) => p.network === network);
  let stale = false;
  for (const [, pif] of pifs) {
    if (Number(pif.VLAN) >= 0) stale ||= !spec.vlan || Number(pif.VLAN) !== spec.vlan.tag || pif.device !== spec.vlan.device;
    for (const bond of pif.bond_master_of ?? []) {
      const rec = await tryRecord<BondRecord>(ctx.caller, 'Bond', bond);
      if (!rec) continue;
      const devices: string[] = [];
      for (const slave of rec.slaves) devices.push((await tryRecord<PIFRecord>(ctx.caller, 'PIF', slave))?.device ?? slave);
      const want = [...(spec.bond?.devices ?? [])].sort();
      stale ||= devices.sort().join(',') !== want.join(',');
    }
  }
  if (stale) await removeCarriers(ctx, network);
  await convergeHostPifs(ctx, action, network, spec);
  await writeSpecDigest(ctx, 'network', network, oc, specDigestOf(action));
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const network = await findNetwork(ctx, action);
  if (!network) throw new ApplyError(action.address, 'the network to update does not exist');
  const oc = await assertOwned(ctx, 'network', network, action.address);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!UPDATABLE.has(f)) throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of a network`);
  }
  await converge(ctx, action, network, desiredSpec<NetworkSpec>(action), fields);
  await writeSpecDigest(ctx, 'network', network, oc, specDigestOf(action));
}

/** Removes the network's VLANs and bonds, then the network. VIFs still on it make it fail (NETWORK_CONTAINS_VIF). */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  const network = await findNetwork(ctx, action);
  if (!network) return;
  if (!(await assertOwned(ctx, 'network', network, action.address))) return;
  await removeCarriers(ctx, network);
  try {
    await ctx.caller.callAsync('network.destroy', network);
  } catch (err) {
    if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
  }
}

/**
 * Applies one Network action: create (marked in network.create, then a VLAN or bond on every host),
 * update, replace (re-creates the VLAN/bond under the kept network), delete, adopt (writes the mark).
 */
export const applyNetwork: Applier = async (action, ctx) => {
  switch (action.operation) {
    case 'create':
      return create(ctx, action);
    case 'update':
      return update(ctx, action);
    case 'replace':
      return replaceCarriers(ctx, action);
    case 'delete':
      return remove(ctx, action);
    case 'adopt':
      await adoptObject(ctx, action, 'network');
      return converge(ctx, action, (await findNetwork(ctx, action))!, desiredSpec<NetworkSpec>(action), new Set());
    default:
      throw new UnsupportedChangeError(action.address, `a network has no '${action.operation}' operation`);
  }
};
