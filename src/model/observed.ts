/**
 * Observed state: one consistent snapshot of a pool read from XAPI (`get_all_records` per class),
 * kept current by `event.from`. Records keep XAPI's wire field names (snake_case) so nothing is lost
 * in translation; indexes make lookups cheap. Produced by `src/observe/`, read by the planner.
 */

/** An XAPI reference, `OpaqueRef:<uuid>`; `OpaqueRef:NULL` when unset. */
export type Ref = string;
export const NULL_REF = 'OpaqueRef:NULL';

/** The XAPI classes xops reads, by their wire names. */
export const OBSERVED_CLASSES = [
  'pool',
  'host',
  'network',
  'PIF',
  'VLAN',
  'Bond',
  'SR',
  'PBD',
  'VDI',
  'VBD',
  'VM',
  'VIF',
  'VM_appliance',
  'VMSS',
  'VM_group',
  'VM_metrics',
  'VM_guest_metrics',
  // Runtime figures for the controller's pool health metrics (memory, liveness, link carrier).
  'host_metrics',
  'PIF_metrics',
] as const;
export type ObservedClass = (typeof OBSERVED_CLASSES)[number];

/** Fields every record has. Other fields are present as XAPI sends them (ints decoded to numbers). */
export interface XapiRecord {
  uuid: string;
  [field: string]: unknown;
}

export interface PoolRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  master: Ref;
  default_SR: Ref;
  tags: string[];
  other_config: Record<string, string>;
  ha_enabled: boolean;
  ha_host_failures_to_tolerate: number;
}

export interface HostRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  address: string;
  enabled: boolean;
  PIFs: Ref[];
  PBDs: Ref[];
  resident_VMs: Ref[];
  /** Its host_metrics record (memory). */
  metrics?: Ref;
  tags: string[];
  other_config: Record<string, string>;
}


export interface NetworkRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  MTU: number;
  bridge: string;
  PIFs: Ref[];
  VIFs: Ref[];
  tags: string[];
  other_config: Record<string, string>;
}

export interface PIFRecord extends XapiRecord {
  device: string;
  host: Ref;
  network: Ref;
  VLAN: number;
  MAC: string;
  MTU: number;
  physical: boolean;
  management: boolean;
  currently_attached: boolean;
  VLAN_master_of: Ref;
  VLAN_slave_of: Ref[];
  bond_master_of: Ref[];
  bond_slave_of: Ref;
  other_config: Record<string, string>;
}

export interface VLANRecord extends XapiRecord {
  tagged_PIF: Ref;
  untagged_PIF: Ref;
  tag: number;
  other_config: Record<string, string>;
}

export interface BondRecord extends XapiRecord {
  master: Ref;
  slaves: Ref[];
  mode: string;
  other_config: Record<string, string>;
}

export interface SRRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  type: string;
  content_type: string;
  shared: boolean;
  physical_size: number;
  physical_utilisation: number;
  PBDs: Ref[];
  VDIs: Ref[];
  tags: string[];
  other_config: Record<string, string>;
  sm_config: Record<string, string>;
}

export interface PBDRecord extends XapiRecord {
  host: Ref;
  SR: Ref;
  device_config: Record<string, string>;
  currently_attached: boolean;
  other_config: Record<string, string>;
}

export interface VDIRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  SR: Ref;
  VBDs: Ref[];
  virtual_size: number;
  type: string;
  sharable: boolean;
  read_only: boolean;
  is_a_snapshot: boolean;
  tags: string[];
  other_config: Record<string, string>;
}

export interface VBDRecord extends XapiRecord {
  VM: Ref;
  VDI: Ref;
  userdevice: string;
  device: string;
  bootable: boolean;
  mode: string;
  type: string;
  empty: boolean;
  currently_attached: boolean;
  other_config: Record<string, string>;
}

export interface VIFRecord extends XapiRecord {
  VM: Ref;
  network: Ref;
  device: string;
  MAC: string;
  MTU: number;
  currently_attached: boolean;
  other_config: Record<string, string>;
}

export interface VMRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  power_state: 'Halted' | 'Paused' | 'Running' | 'Suspended';
  is_a_template: boolean;
  is_a_snapshot: boolean;
  is_control_domain: boolean;
  resident_on: Ref;
  affinity: Ref;
  memory_static_min: number;
  memory_static_max: number;
  memory_dynamic_min: number;
  memory_dynamic_max: number;
  VCPUs_max: number;
  VCPUs_at_startup: number;
  VBDs: Ref[];
  VIFs: Ref[];
  appliance: Ref;
  ha_restart_priority: string;
  order: number;
  start_delay: number;
  shutdown_delay: number;
  snapshot_of: Ref;
  snapshots: Ref[];
  metrics: Ref;
  guest_metrics: Ref;
  tags: string[];
  other_config: Record<string, string>;
  /** Optional in fixtures; XAPI always sends them. */
  platform?: Record<string, string>;
  HVM_boot_params?: Record<string, string>;
  VCPUs_params?: Record<string, string>;
  blocked_operations?: Record<string, string>;
  xenstore_data?: Record<string, string>;
  suspend_SR?: Ref;
  VTPMs?: Ref[];
  /** A template's label, copied to its clones (VM.reference_label, XAPI ely and later; '' when none). */
  reference_label?: string;
}

/** A VM snapshot schedule (XAPI VMSS); it has no other_config, so xops' marks live in the pool's. */
export interface VMSSRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  enabled: boolean;
  type: string;
  retained_snapshots: number;
  frequency: string;
  schedule: Record<string, string>;
  last_run_time: string;
  VMs: Ref[];
}

/** A VM group (XAPI VM_group, XCP-ng 8.3 / XenServer 8); marks live in the pool's other_config. */
export interface VMGroupRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  placement: 'anti_affinity' | 'normal';
  VMs: Ref[];
}

export interface VMApplianceRecord extends XapiRecord {
  name_label: string;
  name_description: string;
  VMs: Ref[];
  allowed_operations: string[];
}

/**
 * A host's runtime figures (`host.metrics` points at it; XAPI keeps them apart from the host record):
 * the planner's capacity preflight and the pool health metrics read them.
 */
export interface HostMetricsRecord extends XapiRecord {
  memory_total: number;
  /** What is left for new guests, as XAPI last computed it. */
  memory_free: number;
  live: boolean;
}

/** A PIF's link state (`PIF.metrics` points at it). */
export interface PIFMetricsRecord extends XapiRecord {
  carrier: boolean;
  speed: number;
}

/** The record type for each observed class. */
export interface ObservedRecordTypes {
  pool: PoolRecord;
  host: HostRecord;
  network: NetworkRecord;
  PIF: PIFRecord;
  VLAN: VLANRecord;
  Bond: BondRecord;
  SR: SRRecord;
  PBD: PBDRecord;
  VDI: VDIRecord;
  VBD: VBDRecord;
  VM: VMRecord;
  VIF: VIFRecord;
  VM_appliance: VMApplianceRecord;
  VMSS: VMSSRecord;
  VM_group: VMGroupRecord;
  VM_metrics: XapiRecord;
  VM_guest_metrics: XapiRecord;
  host_metrics: HostMetricsRecord;
  PIF_metrics: PIFMetricsRecord;
}

/**
 * A consistent snapshot of a pool. `token` is the event.from token the snapshot reflects: every
 * change after it arrives as an event. Maps are keyed by ref. The snapshot is treated as immutable
 * by readers; the observer replaces records, it never mutates one in place.
 */
export interface ObservedState {
  token: string;
  /** ISO time the snapshot (or its last event) was taken. */
  observedAt: string;
  records: { [C in ObservedClass]: Map<Ref, ObservedRecordTypes[C]> };
}

/** The ownership mark xops writes into `other_config` of every object it creates. */
export const MANAGED_KEY = 'xops.managed';

/**
 * The pool's other_config key of a controller's (or an apply's) lease (controller/lease.ts). Plans
 * never read it: it is renewed every few seconds, and a saved plan must not go stale by the lease
 * that `xops apply --plan` itself takes before checking it.
 */
export const LEASE_KEY = 'xops.lease';

/** A pool record as plans see it: without the lease (LEASE_KEY), the record itself when it holds none. */
export function poolWithoutLease(pool: XapiRecord): XapiRecord {
  const oc = pool['other_config'] as Record<string, string> | undefined;
  if (!oc || !(LEASE_KEY in oc)) return pool;
  const { [LEASE_KEY]: _lease, ...rest } = oc;
  return { ...pool, other_config: rest };
}
/** The repository identity written next to the mark, so two repositories never fight over objects. */
export const REPO_KEY = 'xops.repo';
/**
 * Digest of the desired spec xops last applied to the object. Equal to the current spec's digest
 * means the manifest has not changed since, so any difference is drift.
 */
export const SPEC_KEY = 'xops.spec';
/** On a VM's VDIs: the name of the manifest disk the VDI is (the planner matches by it, apply writes it). */
export const DISK_KEY = 'xops.disk';
/** On a standalone disk's VDI (kind Disk): `true`. VM kinds never count such a VDI among their own disks. */
export const STANDALONE_KEY = 'xops.standalone';
/** On a VBD xops made to attach a standalone disk to a VM: the Disk's address (`Disk/data-01`). */
export const ATTACH_KEY = 'xops.attach';
/** On a VM's VIFs: the index of the manifest's `networks` entry the VIF is. */
export const VIF_KEY = 'xops.vif';

/**
 * Whether an object's `xops.repo` mark allows this repository to act on it. A mark without a
 * repository (absent or empty) and a run without an identity both match; otherwise they must be
 * equal. The one rule the planner and apply share, so a plan never proposes what apply refuses.
 */
export function repoMatches(markRepo: string | undefined, repo: string | undefined): boolean {
  return !markRepo || !repo || markRepo === repo;
}
