import type { DesiredNetwork } from '../../model/desired.js';
import type { NetworkRecord, Ref } from '../../model/observed.js';
import type { Action, FieldChange } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { compareField, compareOtherConfig, compareTags, createChanges, makeAction, objectRef, updateReason } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import type { ObjectMark } from '../../plan/ownership-marks.js';
import { markOf } from '../../plan/ownership-marks.js';
import { read } from '../../plan/context.js';
import { orphanName, pruneAllowed, wouldPrune } from '../../plan/prune.js';
import { observedCarrier, sameDevices } from './compare.js';

/** `details` of a Network replace: which carrier apply re-creates under the (kept) network object. */
export interface NetworkReplaceDetails {
  recreate: 'vlan' | 'bond';
  network: string;
}

/**
 * Plans one Network manifest. The network object itself is never replaced (VIFs on it stay): a
 * changed VLAN tag or device, or changed bond members, re-create the VLAN/bond PIFs under it, which
 * stops traffic on it meanwhile (downtime).
 */
export function planNetwork(ctx: PlanContext, net: DesiredNetwork): void {
  const address = `Network/${net.meta.name}`;
  const owner = ctx.owners.get(address);
  if (!owner || owner.state === 'conflict') return;
  if (owner.state === 'absent') {
    ctx.actions.push(
      makeAction({
        operation: 'create',
        resource: net,
        reason: net.spec.vlan
          ? `new network on VLAN ${net.spec.vlan.tag} over ${net.spec.vlan.device} of every host`
          : net.spec.bond
            ? `new network on a bond of ${net.spec.bond.devices.join('+')} (${net.spec.bond.mode})`
            : 'new network',
        changes: createChanges(net.spec),
        desired: net.spec,
      }),
    );
    return;
  }
  const ref = owner.ref as Ref;
  const rec = owner.record as NetworkRecord;
  const self = objectRef('network', ref, rec.uuid);
  const drift = (owner.mark as ObjectMark).spec === specDigest(net);
  if (owner.state === 'adopt') {
    ctx.actions.push(makeAction({
      operation: 'adopt', resource: net, objects: [self], desired: net.spec,
      reason: `takes ownership of the existing network '${rec.name_label}' (writes xops' mark)`,
    }));
  }
  const { spec } = net;
  const changes: FieldChange[] = [];
  compareField(changes, 'spec.nameLabel', rec.name_label, spec.nameLabel);
  if (spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, spec.description);
  if (spec.mtu !== undefined) {
    compareField(changes, 'spec.mtu', rec.MTU, spec.mtu, 'none', 'a new MTU takes effect as PIFs and VIFs are next plugged');
  }
  compareTags(ctx, net, changes, rec.tags, spec.tags);
  compareOtherConfig(changes, rec.other_config, spec.otherConfig);

  const carrier = observedCarrier(ctx, rec);
  const replace: FieldChange[] = [];
  let recreate: NetworkReplaceDetails['recreate'] | undefined;
  // No VLAN or bond carries the network yet (a create interrupted after network.create, or a network
  // made without one): apply only adds the PIFs, tearing nothing down, so no traffic stops.
  const uncarried = !carrier.vlan && !carrier.bond;
  const carrierCost = uncarried ? 'none' : 'downtime';
  const vlanReason = uncarried
    ? 'the network has no VLAN yet: its PIFs are created, nothing is torn down'
    : 'a VLAN cannot be re-tagged: its PIFs are re-created, stopping traffic on the network meanwhile';
  if (spec.vlan || carrier.vlan) {
    if (compareField(replace, 'spec.vlan.tag', carrier.vlan?.tag, spec.vlan?.tag, carrierCost, vlanReason)) recreate = 'vlan';
    if (compareField(replace, 'spec.vlan.device', carrier.vlan?.device, spec.vlan?.device, carrierCost, vlanReason)) recreate = 'vlan';
  }
  if (spec.bond || carrier.bond) {
    if (!sameDevices(carrier.bond?.devices ?? [], spec.bond?.devices ?? [])) {
      replace.push({
        path: 'spec.bond.devices', from: carrier.bond?.devices, to: spec.bond?.devices, disruption: carrierCost,
        reason: uncarried
          ? 'the network has no bond yet: it is created, nothing is torn down'
          : 'bond members cannot change in place: the bond is re-created, stopping traffic on the network meanwhile',
      });
      recreate = 'bond';
    } else if (spec.bond && carrier.bond) {
      compareField(changes, 'spec.bond.mode', carrier.bond.mode, spec.bond.mode, 'none', 'Bond.set_mode changes the mode in place');
    }
  }
  if (changes.length > 0) {
    ctx.actions.push(makeAction({
      operation: 'update', resource: net, changes, objects: [self, ...carrier.objects], desired: net.spec, drift,
      reason: updateReason(changes, 'network settings are changed live'),
    }));
  }
  if (recreate) {
    ctx.actions.push(makeAction({
      operation: 'replace', resource: net, detail: recreate, changes: replace, objects: [self, ...carrier.objects],
      desired: net.spec, drift, reason: updateReason(replace, ''),
      details: { recreate, network: rec.uuid } satisfies NetworkReplaceDetails,
    }));
  }
}

/**
 * Managed networks with no manifest: deleted only when prune is on. Destructive, like deleting an SR:
 * whatever uses the network (VIFs, VLANs, bonds) is cut off and nothing brings it back on its own.
 */
export function pruneNetworks(ctx: PlanContext): void {
  for (const [ref, rec] of ctx.observed.records.network) {
    const mark = markOf(rec);
    const name = orphanName(ctx, 'Network', mark);
    if (name === undefined) continue;
    read(ctx, 'network', ref);
    if (!pruneAllowed(ctx, 'Network', name)) {
      wouldPrune(ctx, mark.address!, `network '${rec.name_label}' (${rec.uuid})`);
      continue;
    }
    const carrier = observedCarrier(ctx, rec);
    ctx.actions.push(makeAction({
      operation: 'delete', resource: { kind: 'Network', meta: { name } }, disruption: 'destructive',
      reason: rec.VIFs.length > 0
        ? `the network is no longer declared: it is destroyed, cutting off the ${rec.VIFs.length} VIF(s) still on it`
        : 'the network is no longer declared: it is destroyed with its VLAN/bond PIFs',
      objects: [objectRef('network', ref, rec.uuid), ...carrier.objects],
    }));
  }
}

/** Uuids of the VMs with a VIF on the network a delete action removes: it waits for their actions. */
export function vmsOnNetwork(ctx: PlanContext, action: Action): Set<string> {
  const users = new Set<string>();
  const main = action.objects[0];
  if (!main || main.cls !== 'network') return users;
  for (const vif of ctx.index.get('network', main.ref)?.VIFs ?? []) {
    const vm = ctx.index.get('VM', ctx.index.get('VIF', vif)?.VM ?? '');
    if (vm) users.add(vm.uuid);
  }
  return users;
}
