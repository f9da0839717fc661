/** The network kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta } from '../../model/manifest.js';

export type BondMode = 'balance-slb' | 'active-backup' | 'lacp';

export interface DesiredNetwork {
  kind: 'Network';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    mtu?: number;
    /** A VLAN on every host's PIF with this device name (e.g. eth1). */
    vlan?: { tag: number; device: string };
    /** A bond on every host over the PIFs with these device names. */
    bond?: { devices: string[]; mode: BondMode };
    tags: string[];
    otherConfig: Record<string, string>;
  };
}
