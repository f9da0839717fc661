import type { SourceLocation } from './diagnostics.js';

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
  vms: DesiredVM[];
  appliances: DesiredVMAppliance[];
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

/** What every document carries besides its spec. */
export interface ManifestMeta {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Where the document starts (its `kind:` line), for diagnostics and policy messages. */
  source: SourceLocation;
}

/**
 * A cross-reference from one manifest to a pool object, e.g. a VM disk's `sr`.
 * `target: 'manifest'` — another manifest of that kind declares it (by metadata.name);
 * `target: 'live'` — not declared; it names an existing pool object by name_label (or uuid),
 * checked against the live pool when one was available at load time (`checked`).
 */
export interface Reference {
  name: string;
  target: 'manifest' | 'live';
  checked: boolean;
}

/** A value to be read at apply time, never stored in plans or logs. */
export interface SecretRef {
  secretRef: { env?: string; file?: string };
}

export type ConfigValue = string | SecretRef;

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

export interface DesiredHost {
  kind: 'Host';
  meta: ManifestMeta;
  spec: {
    /** Existing host, matched by name_label or uuid. */
    name: string;
    description?: string;
    tags?: string[];
    otherConfig?: Record<string, string>;
  };
}

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

export type PowerState = 'running' | 'halted' | 'suspended' | 'paused';
export type HaRestartPriority = 'restart' | 'best-effort' | '';

export interface DesiredDisk {
  /** Disk name, unique within the VM; the VDI's name_label is `<vm>-<disk>`. */
  name: string;
  /** Bytes. */
  size: number;
  /** Omitted: the pool's default SR. */
  sr?: Reference;
}

export interface DesiredVif {
  network: Reference;
  mac?: string;
}

export interface DesiredVM {
  kind: 'VM';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    /** Template name_label (a live object). */
    template: Reference;
    vcpus: number;
    /** VCPUs_max; defaults to `vcpus`. Raising `vcpus` up to it is a hot change. */
    vcpusMax: number;
    /** Bytes; dynamic_min = dynamic_max = memory. */
    memory: number;
    /** Bytes; static_max, defaults to `memory`. Growing memory up to it is a hot change. */
    memoryMax: number;
    disks: DesiredDisk[];
    networks: DesiredVif[];
    powerState: PowerState;
    /** Affinity host. */
    host?: Reference;
    haRestartPriority?: HaRestartPriority;
    autoPowerOn?: boolean;
    appliance?: Reference;
    tags: string[];
    otherConfig: Record<string, string>;
  };
}

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

export type DesiredResource =
  | DesiredPool
  | DesiredHost
  | DesiredNetwork
  | DesiredSR
  | DesiredVM
  | DesiredVMAppliance;

export type DesiredDocument = DesiredResource | DesiredPolicy;

/** Every declared resource (not Policies), in kind order. */
export function desiredResources(desired: DesiredState): DesiredResource[] {
  return [
    ...(desired.pool ? [desired.pool] : []),
    ...desired.hosts,
    ...desired.networks,
    ...desired.srs,
    ...desired.vms,
    ...desired.appliances,
  ];
}
