import type { SourceLocation } from './diagnostics.js';
import type { DesiredPool } from '../kinds/pool/desired.js';
import type { DesiredHost } from '../kinds/host/desired.js';
import type { DesiredNetwork } from '../kinds/network/desired.js';
import type { DesiredSR } from '../kinds/sr/desired.js';
import type { DesiredStandaloneDisk } from '../kinds/disk/desired.js';
import type { DesiredVM } from '../kinds/vm/desired.js';
import type { DesiredVMAppliance } from '../kinds/vmappliance/desired.js';
import type { DesiredPolicy } from '../kinds/policy/desired.js';
import type { DesiredSnapshotSchedule } from '../kinds/snapshotschedule/desired.js';
import type { DesiredVMGroup } from '../kinds/vmgroup/desired.js';

// Each kind's own types live in its folder (src/kinds/<kind>/desired.ts); this module assembles
// them into DesiredState, the data contract between the loader, the planner and the policies.
export type { ManifestMeta, Reference, SecretRef, ConfigValue } from './manifest.js';
export type { DesiredPool } from '../kinds/pool/desired.js';
export type { DesiredHost } from '../kinds/host/desired.js';
export type { BondMode, DesiredNetwork } from '../kinds/network/desired.js';
export type { SRType, DesiredSR } from '../kinds/sr/desired.js';
export type { DiskImageFormat, DiskSource, DesiredStandaloneDisk } from '../kinds/disk/desired.js';
export type { PowerState, HaRestartPriority, DesiredDisk, DesiredAttachment, DesiredVif, DesiredVM } from '../kinds/vm/desired.js';
export type { DesiredApplianceMember, DesiredVMAppliance } from '../kinds/vmappliance/desired.js';
export type { DesiredSnapshotSchedule, SnapshotFrequency, SnapshotType } from '../kinds/snapshotschedule/desired.js';
export type { DesiredVMGroup, VMGroupPlacement } from '../kinds/vmgroup/desired.js';
export type { Match, AdmissionRule, DisruptionClass, MaintenanceWindow, AutomationSettings, RolloutSettings, DesiredPolicy } from '../kinds/policy/desired.js';

/**
 * Desired state: what the manifests declare, after parsing, schema validation, defaulting, size
 * normalisation (all sizes in bytes) and reference resolution. Produced by `src/manifests/`, consumed
 * by the planner and policies. Plain data, serialisable as JSON.
 */
export interface DesiredState {
  /** Source identity: the Git commit (or `local` for a working folder) and folder the manifests came from. */
  source: { commit?: string; path: string };
  pool?: DesiredPool;
  hosts: DesiredHost[];
  networks: DesiredNetwork[];
  srs: DesiredSR[];
  /** Standalone disks (kind Disk): VDIs declared on their own, attached to VMs by name. */
  disks: DesiredStandaloneDisk[];
  vms: DesiredVM[];
  appliances: DesiredVMAppliance[];
  snapshotSchedules: DesiredSnapshotSchedule[];
  vmGroups: DesiredVMGroup[];
  policies: DesiredPolicy[];
  /** Every document as written (after YAML parsing), for admission rules and diagnostics. */
  documents: RawDocument[];
}

/** A manifest document as the operator wrote it, with the location of each JSON path in it. */
export interface RawDocument {
  kind: string;
  name: string;
  address: string;
  labels: Record<string, string>;
  body: unknown;
  source: SourceLocation;
  /** JSON path (`spec.disks[0].size`) → where its value starts. */
  locations: Record<string, SourceLocation>;
}

export type DesiredResource =
  | DesiredPool
  | DesiredHost
  | DesiredNetwork
  | DesiredSR
  | DesiredStandaloneDisk
  | DesiredVM
  | DesiredVMAppliance
  | DesiredSnapshotSchedule
  | DesiredVMGroup;

export type DesiredDocument = DesiredResource | DesiredPolicy;

/** Every declared resource (not Policies), in kind order. */
export function desiredResources(desired: DesiredState): DesiredResource[] {
  return [
    ...(desired.pool ? [desired.pool] : []),
    ...desired.hosts,
    ...desired.networks,
    ...desired.srs,
    ...desired.disks,
    ...desired.vms,
    ...desired.appliances,
    ...desired.snapshotSchedules,
    ...desired.vmGroups,
  ];
}
