/** The host kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta } from '../../model/manifest.js';

export interface DesiredHost {
  kind: 'Host';
  meta: ManifestMeta;
  spec: {
    /** Existing host, matched by name_label or uuid. */
    name: string;
    description?: string;
    tags?: string[];
    otherConfig?: Record<string, string>;
    /** true: drain (live-migrate its VMs away) and disable the host; false: enable it. Absent: leave as is. */
    maintenance?: boolean;
  };
}
