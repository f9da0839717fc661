/** The VMGroup kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta, Reference } from '../../model/manifest.js';

/** `anti-affinity`: members run on different hosts where the pool allows; `normal`: no placement rule. */
export type VMGroupPlacement = 'anti-affinity' | 'normal';

export interface DesiredVMGroup {
  kind: 'VMGroup';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    placement: VMGroupPlacement;
    /** VMs named in the manifest. */
    vms: Reference[];
    /** VM manifests with every one of these labels are members too. */
    selector?: { labels: Record<string, string> };
  };
}
