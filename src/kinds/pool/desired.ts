/** The pool kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta, Reference } from '../../model/manifest.js';

export interface DesiredPool {
  kind: 'Pool';
  meta: ManifestMeta;
  spec: {
    nameLabel?: string;
    description?: string;
    defaultSR?: Reference;
    tags?: string[];
    otherConfig?: Record<string, string>;
    ha?: { enabled: boolean; hostFailuresToTolerate?: number };
  };
}
