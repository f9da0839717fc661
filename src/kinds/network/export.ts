import type { NetworkRecord, Ref } from '../../model/observed.js';
import type { Candidate, ExportContext } from '../../export/context.js';
import { alreadyManaged, countSkipped, describe } from '../../export/context.js';
import { declarableOtherConfig, setIfPresent } from '../../export/values.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc, nameLabelSpec } from '../../export/manifest-doc.js';

/** How a network reaches the wire, as its PIFs show it. */
export type NetworkCarrier =
  | { type: 'private' }
  | { type: 'vlan'; tag: number; device: string }
  | { type: 'bond'; devices: string[]; mode: string }
  | { type: 'physical'; devices: string[] }
  | { type: 'other' };

/**
 * Reads a network's carrier from its PIFs: a PIF with VLAN >= 0 makes it a VLAN, a bond master PIF a
 * bond, a physical PIF a NIC network; no PIFs at all is a private (host-internal) network.
 */
export function networkCarrier(ctx: ExportContext, network: NetworkRecord): NetworkCarrier {
  const pifs = (network.PIFs ?? []).flatMap((ref: Ref) => {
    const pif = ctx.index.get('PIF', ref);
    return pif ? [pif] : [];
  });
  if (pifs.length === 0) return { type: 'private' };
  const vlan = pifs.find((p) => p.VLAN >= 0);
  if (vlan) return { type: 'vlan', tag: vlan.VLAN, device: vlan.device };
  for (const pif of pifs) {
    const bond = (pif.bond_master_of ?? []).map((b) => ctx.index.get('Bond', b)).find(Boolean);
    if (bond) {
      const devices = bond.slaves.map((s) => ctx.index.get('PIF', s)?.device).filter((d): d is string => Boolean(d)).sort();
      return { type: 'bond', devices, mode: bond.mode };
    }
  }
  const physical = pifs.filter((p) => p.physical);
  if (physical.length > 0) return { type: 'physical', devices: [...new Set(physical.map((p) => p.device))].sort() };
  return { type: 'other' };
}

const BOND_MODES = ['balance-slb', 'active-backup', 'lacp'];

/**
 * Networks: private, VLAN and bond networks are exported. Networks on the hosts' physical NICs are
 * hardware (XAPI makes one per NIC): manifests refer to them by name_label and xops never manages them.
 * XAPI's internal networks (host-internal management, guest installer) are left alone too.
 */
export const networkExporter: KindExporter<'network'> = {
  kind: 'Network',
  cls: 'network',
  folder: 'networks',
  select(ctx) {
    const out: Candidate<'network'>[] = [];
    for (const [ref, record] of ctx.observed.records.network) {
      const oc = record.other_config ?? {};
      if (oc['is_host_internal_management_network'] === 'true' || oc['is_guest_installer_network'] === 'true') {
        countSkipped(ctx, 'XAPI-internal network');
        continue;
      }
      if (alreadyManaged(ctx, 'network', record)) continue;
      const carrier = networkCarrier(ctx, record);
      if (carrier.type === 'physical') {
        ctx.notes.push({
          severity: 'info', code: 'hardware-network',
          message: `${describe('network', record)} is carried by the hosts' NIC ${carrier.devices.join(', ')}: not exported (xops does not manage NIC networks; manifests refer to it by name)`,
        });
        continue;
      }
      if (carrier.type === 'other') {
        ctx.notes.push({ severity: 'info', code: 'unsupported-network', message: `${describe('network', record)} is carried by PIFs xops does not model (tunnel, SR-IOV...): not exported` });
        continue;
      }
      if (carrier.type === 'bond' && (carrier.devices.length < 2 || !BOND_MODES.includes(carrier.mode))) {
        ctx.notes.push({ severity: 'info', code: 'unsupported-network', message: `${describe('network', record)} is a bond of ${carrier.devices.join('+') || 'no devices'} in mode '${carrier.mode}', which a Network manifest cannot express: not exported` });
        continue;
      }
      out.push({ cls: 'network', ref, record });
    }
    return out;
  },
  build(ctx, chosen) {
    const rec = chosen.record;
    const spec: Record<string, unknown> = { ...nameLabelSpec(chosen) };
    setIfPresent(spec, 'description', rec.name_description);
    // 1500 is what XAPI gives a network without an MTU: only a deliberate one is worth declaring.
    if (rec.MTU !== 1500 && rec.MTU !== undefined) spec.mtu = rec.MTU;
    const carrier = networkCarrier(ctx, rec);
    if (carrier.type === 'vlan') spec.vlan = { tag: carrier.tag, device: carrier.device };
    if (carrier.type === 'bond') spec.bond = { devices: carrier.devices, mode: carrier.mode };
    setIfPresent(spec, 'tags', [...(rec.tags ?? [])].sort());
    if (ctx.otherConfig) setIfPresent(spec, 'otherConfig', declarableOtherConfig(rec.other_config));
    return manifestDoc(chosen, spec);
  },
};
