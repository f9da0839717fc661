/** The policy kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta } from '../../model/manifest.js';

/** Which manifests a policy rule applies to. Empty/absent lists match everything. */
export interface Match {
  kinds?: string[];
  /** Every listed label must be present with that value. */
  labels?: Record<string, string>;
  /** Names or glob patterns (`web-*`). */
  names?: string[];
}

export interface AdmissionRule {
  name: string;
  match: Match;
  /** JSON Schema checked (with ajv) against the whole manifest document as written. */
  require: object;
  severity: 'deny' | 'warn';
  message: string;
}

export type DisruptionClass = 'reboot' | 'downtime' | 'destructive';

export interface MaintenanceWindow {
  name?: string;
  /** Five-field cron expression for when the window opens (UTC unless timezone is set). */
  schedule: string;
  /** Seconds the window stays open. */
  duration: number;
  timezone?: string;
  allow: DisruptionClass[];
}

export interface AutomationSettings {
  drift?: 'heal' | 'report';
  prune?: boolean;
  adopt?: boolean;
  windows?: MaintenanceWindow[];
  maxDisruptive?: number;
  /** Disruptions that need an approval annotation on the manifest (or Policy) at the applied commit. */
  approval?: DisruptionClass[];
  snapshotBefore?: DisruptionClass[];
  /** Pre-change snapshots kept per VM; older ones are deleted after each new one. Absent: all are kept. */
  snapshotRetain?: number;
  /** Reboot changes over the VMs this Policy selects run a few at a time (see RolloutSettings). */
  rollout?: RolloutSettings;
}

/**
 * A rolling change: VM actions that need a reboot, over the VMs the Policy's `spec.match` selects, run
 * in batches of at most `maxUnavailable`; a batch starts only once every VM of the one before is
 * healthy again (guest metrics back, the readiness address if the VM declares one) and stayed so for
 * `healthyAfter`. The first failure halts the rollout and holds the batches after it.
 */
export interface RolloutSettings {
  /** VMs of the set disrupted at once: a count (at least 1) or a percentage of the set (`25%`, at least one VM). */
  maxUnavailable: number | `${number}%`;
  /** Seconds a rebooted VM must stay healthy before the next batch starts. */
  healthyAfter: number;
}

export interface DesiredPolicy {
  kind: 'Policy';
  meta: ManifestMeta;
  spec: {
    /** Resources this policy's automation settings apply to; absent = everything. */
    match?: Match;
    admission: AdmissionRule[];
    automation?: AutomationSettings;
  };
}
