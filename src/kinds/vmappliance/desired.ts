/** The vmappliance kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta, Reference } from '../../model/manifest.js';

export interface DesiredApplianceMember {
  vm: Reference;
  startOrder: number;
  /** Seconds. */
  startDelay: number;
  /** Seconds. */
  shutdownDelay: number;
}

export interface DesiredVMAppliance {
  kind: 'VMAppliance';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    members: DesiredApplianceMember[];
  };
}
