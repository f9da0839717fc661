/** The sr kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta, Reference, ConfigValue } from '../../model/manifest.js';

export type SRType = 'nfs' | 'lvmoiscsi' | 'lvm' | 'ext' | 'smb' | 'iso';

export interface DesiredSR {
  kind: 'SR';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    type: SRType;
    shared: boolean;
    contentType: string;
    deviceConfig: Record<string, ConfigValue>;
    /** For local (non-shared) SRs: the host that owns it. */
    host?: Reference;
    tags: string[];
  };
}
