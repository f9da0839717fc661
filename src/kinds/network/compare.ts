import type { BondMode } from '../../model/desired.js';
import type { NetworkRecord, Ref } from '../../model/observed.js';
import type { ObjectRef } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { objectRef } from '../../plan/changes.js';

/** How a network is carried on the hosts, as read from its PIFs, VLANs and bonds. */
export interface ObservedCarrier {
  vlan?: { tag: number; device: string };
  bond?: { devices: string[]; mode: string };
  /** The PIFs (and VLAN/Bond rows) that carry it, for apply to re-create on a replace. */
  objects: ObjectRef[];
}

/**
 * Reads the VLAN or bond under a network from its PIFs: a PIF with `VLAN >= 0` is a VLAN interface
 * (its device is the tagged NIC); a PIF that is a bond master names its slaves' devices.
 */
export function observedCarrier(ctx: PlanContext, network: NetworkRecord): ObservedCarrier {
  const out: ObservedCarrier = { objects: [] };
  for (const pifRef of network.PIFs) {
    const pif = read(ctx, 'PIF', pifRef);
    if (!pif) continue;
    out.objects.push(objectRef('PIF', pifRef, pif.uuid));
    if (pif.VLAN >= 0 && !out.vlan) out.vlan = { tag: pif.VLAN, device: pif.device };
    for (const bondRef of pif.bond_master_of ?? []) {
      const bond = read(ctx, 'Bond', bondRef);
      if (!bond) continue;
      out.objects.push(objectRef('Bond', bondRef, bond.uuid));
      if (!out.bond) {
        const devices = bond.slaves.map((s: Ref) => read(ctx, 'PIF', s)?.device ?? s).sort();
        out.bond = { devices, mode: bond.mode };
      }
    }
  }
  return out;
}

export function sameDevices(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((d, i) => d === [...b].sort()[i]);
}

export type { BondMode };
