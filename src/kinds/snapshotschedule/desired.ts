/** The SnapshotSchedule kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta, Reference } from '../../model/manifest.js';

/** XAPI's VMSS frequencies. */
export type SnapshotFrequency = 'hourly' | 'daily' | 'weekly';
/** `snapshot`: disks only; `checkpoint`: disks and memory (a running VM resumes where it was). */
export type SnapshotType = 'snapshot' | 'checkpoint';

export interface DesiredSnapshotSchedule {
  kind: 'SnapshotSchedule';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    enabled: boolean;
    type: SnapshotType;
    frequency: SnapshotFrequency;
    /** XAPI's schedule map, complete for the frequency: `min` always, `hour` (daily, weekly), `days` (weekly). */
    schedule: Record<string, string>;
    /** VMSS retained_snapshots: each VM keeps this many scheduled snapshots (1..10). */
    retain: number;
    /** VMs named in the manifest. */
    vms: Reference[];
    /** VM manifests with every one of these labels are members too. */
    selector?: { labels: Record<string, string> };
  };
}
