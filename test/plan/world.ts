/**
 * Builders for planner fixtures: a small observed pool (records with XAPI's wire field names) and
 * manifests as the loader would produce them. Each test starts from `basePool()` and adds what its
 * case is about, so a case reads as "this pool, these manifests → this plan".
 */
import type {
  DesiredNetwork, DesiredPolicy, DesiredPool, DesiredSR, DesiredState, DesiredVM, DesiredVMAppliance, DesiredHost,
  AutomationSettings, ManifestMeta, Reference,
} from '../../src/model/desired.js';
import type { ObservedClass, ObservedRecordTypes, ObservedState, Ref } from '../../src/model/observed.js';
import { OBSERVED_CLASSES, NULL_REF, MANAGED_KEY, REPO_KEY, SPEC_KEY } from '../../src/model/observed.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

const uuidFor = (cls: string, n: number) => `${cls.toLowerCase().replace(/_/g, '')}-0000-0000-0000-${String(n).padStart(12, '0')}`;

/** A mutable observed pool under construction. */
export class World {
  readonly state: ObservedState;
  // Per world, not per module: test workers keep modules across files, and golden digests include uuids.
  private counter = 0;
  constructor() {
    const records = Object.fromEntries(OBSERVED_CLASSES.map((c) => [c, new Map()])) as ObservedState['records'];
    this.state = { token: 'token-1', observedAt: '2025-01-01T00:00:00.000Z', records };
  }
  add<C extends ObservedClass>(cls: C, fields: Partial<ObservedRecordTypes[C]>): Ref {
    const n = ++this.counter;
    const ref = `OpaqueRef:${cls}-${n}`;
    this.state.records[cls].set(ref, { ...fields, uuid: uuidFor(cls, n) } as ObservedRecordTypes[C]);
    return ref;
  }
  get<C extends ObservedClass>(cls: C, ref: Ref): ObservedRecordTypes[C] {
    return this.state.records[cls].get(ref)!;
  }
  /** Replaces fields of a record (records are treated as immutable by readers: a new object). */
  set<C extends ObservedClass>(cls: C, ref: Ref, fields: Partial<ObservedRecordTypes[C]>): void {
    this.state.records[cls].set(ref, { ...this.get(cls, ref), ...fields });
  }
  uuid(cls: ObservedClass, ref: Ref): string {
    return this.state.records[cls].get(ref)!.uuid;
  }
}

export function mark(address: string, extra: { repo?: string; spec?: string } = {}): Record<string, string> {
  const oc: Record<string, string> = { [MANAGED_KEY]: address };
  if (extra.repo) oc[REPO_KEY] = extra.repo;
  if (extra.spec) oc[SPEC_KEY] = extra.spec;
  return oc;
}

/** The base pool every case starts from: 2 hosts, eth0 network, a local and a shared (default) SR, two templates. */
export interface Base {
  world: World;
  pool: Ref;
  hosts: Ref[];
  eth0: Ref;
  nfs: Ref;
  local: Ref;
  debian: Ref;
  rocky: Ref;
}

export function basePool(): Base {
  const world = new World();
  const hosts = [1, 2].map((i) => world.add('host', { name_label: `xcp-host${i}`, name_description: '', address: `127.0.0.${i}`, enabled: true, PIFs: [], PBDs: [], resident_VMs: [], tags: [], other_config: {} }));
  const eth0 = world.add('network', { name_label: 'Pool-wide network associated with eth0', name_description: '', MTU: 1500, bridge: 'xenbr0', PIFs: [], VIFs: [], tags: [], other_config: {} });
  const pifs = hosts.map((h) => world.add('PIF', { device: 'eth0', host: h, network: eth0, VLAN: -1, MAC: '', MTU: 1500, physical: true, management: true, currently_attached: true, VLAN_master_of: NULL_REF, VLAN_slave_of: [], bond_master_of: [], bond_slave_of: NULL_REF, other_config: {} }));
  world.set('network', eth0, { PIFs: pifs });
  const nfs = world.add('SR', { name_label: 'pool-nfs', name_description: '', type: 'nfs', content_type: 'user', shared: true, physical_size: 0, physical_utilisation: 0, PBDs: [], VDIs: [], tags: [], other_config: {}, sm_config: {}, allowed_operations: ['vdi_create', 'vdi_resize'] });
  const local = world.add('SR', { name_label: 'Local storage on xcp-host1', name_description: '', type: 'lvm', content_type: 'user', shared: false, physical_size: 0, physical_utilisation: 0, PBDs: [], VDIs: [], tags: [], other_config: {}, sm_config: {}, allowed_operations: ['vdi_create', 'vdi_resize', 'vdi_resize_online'] });
  const pool = world.add('pool', { name_label: 'demo', name_description: '', master: hosts[0], default_SR: nfs, tags: [], other_config: {}, ha_enabled: false, ha_host_failures_to_tolerate: 0 });
  const template = (name: string) => world.add('VM', { ...vmDefaults(), name_label: name, is_a_template: true, other_config: { default_template: 'true' } });
  return { world, pool, hosts, eth0, nfs, local, debian: template('Debian Bookworm 12'), rocky: template('Rocky Linux 9') };
}

function vmDefaults(): ObservedRecordTypes['VM'] {
  return {
    uuid: '', name_label: '', name_description: '', power_state: 'Halted', is_a_template: false, is_a_snapshot: false,
    is_control_domain: false, resident_on: NULL_REF, affinity: NULL_REF, memory_static_min: 512 * MiB,
    memory_static_max: 2 * GiB, memory_dynamic_min: 2 * GiB, memory_dynamic_max: 2 * GiB, VCPUs_max: 2, VCPUs_at_startup: 2,
    VBDs: [], VIFs: [], appliance: NULL_REF, ha_restart_priority: '', order: 0, start_delay: 0, shutdown_delay: 0,
    snapshot_of: NULL_REF, snapshots: [], metrics: NULL_REF, guest_metrics: NULL_REF, tags: [], other_config: {},
  };
}

export interface ObservedVMSpec {
  name: string;
  address?: string | null;
  power?: 'Running' | 'Halted' | 'Suspended' | 'Paused';
  residentOn?: Ref;
  affinity?: Ref;
  template?: string;
  memory?: number;
  memoryMax?: number;
  vcpus?: number;
  vcpusMax?: number;
  disks?: { name: string; size: number; sr: Ref; owned?: boolean }[];
  vifs?: { network: Ref; owned?: boolean; mac?: string }[];
  otherConfig?: Record<string, string>;
  spec?: string;
  repo?: string;
  tags?: string[];
}

/** Adds a VM with its VBDs, VDIs and VIFs; by default managed as `VM/<name>`, made from Debian. */
export function addVM(b: Base, o: ObservedVMSpec): Ref {
  const { world } = b;
  const running = (o.power ?? 'Running') !== 'Halted';
  const memory = o.memory ?? 2 * GiB;
  const oc: Record<string, string> = {
    base_template_name: o.template ?? 'Debian Bookworm 12',
    ...(o.address === null ? {} : mark(o.address ?? `VM/${o.name}`, { spec: o.spec, repo: o.repo })),
    ...o.otherConfig,
  };
  const vm = world.add('VM', {
    ...vmDefaults(), name_label: o.name, power_state: o.power ?? 'Running',
    resident_on: running ? (o.residentOn ?? b.hosts[0]) : NULL_REF, affinity: o.affinity ?? NULL_REF,
    memory_static_max: o.memoryMax ?? memory, memory_dynamic_min: memory, memory_dynamic_max: memory,
    VCPUs_at_startup: o.vcpus ?? 2, VCPUs_max: o.vcpusMax ?? o.vcpus ?? 2, other_config: oc, tags: o.tags ?? [],
  });
  const vbds = (o.disks ?? []).map((d, i) => {
    const vdi = world.add('VDI', { name_label: `${o.name}-${d.name}`, name_description: '', SR: d.sr, VBDs: [], virtual_size: d.size, type: 'user', sharable: false, read_only: false, is_a_snapshot: false, tags: [], other_config: d.owned === false ? {} : { 'xops.disk': d.name } });
    const vbd = world.add('VBD', { VM: vm, VDI: vdi, userdevice: String(i), device: `xvd${'abcdefgh'[i]}`, bootable: i === 0, mode: 'RW', type: 'Disk', empty: false, currently_attached: running, other_config: {} });
    world.set('VDI', vdi, { VBDs: [vbd] });
    world.set('SR', d.sr, { VDIs: [...world.get('SR', d.sr).VDIs, vdi] });
    return vbd;
  });
  const vifs = (o.vifs ?? []).map((v, i) => {
    const vif = world.add('VIF', { VM: vm, network: v.network, device: String(i), MAC: v.mac ?? `aa:bb:cc:00:00:0${i}`, MTU: 1500, currently_attached: running, other_config: v.owned === false ? {} : { 'xops.vif': String(i) } });
    world.set('network', v.network, { VIFs: [...world.get('network', v.network).VIFs, vif] });
    return vif;
  });
  world.set('VM', vm, { VBDs: vbds, VIFs: vifs });
  return vm;
}

/** Adds a managed network carried by a VLAN on eth0 of every host. */
export function addVlanNetwork(b: Base, name: string, tag: number, address: string | null = `Network/${name}`): Ref {
  const { world } = b;
  const net = world.add('network', { name_label: name, name_description: '', MTU: 1500, bridge: `xapi${tag}`, PIFs: [], VIFs: [], tags: [], other_config: address ? mark(address) : {} });
  const pifs = b.hosts.map((h) => world.add('PIF', { device: 'eth0', host: h, network: net, VLAN: tag, MAC: 'fe:ff:ff:ff:ff:ff', MTU: 1500, physical: false, management: false, currently_attached: true, VLAN_master_of: NULL_REF, VLAN_slave_of: [], bond_master_of: [], bond_slave_of: NULL_REF, other_config: {} }));
  world.set('network', net, { PIFs: pifs });
  return net;
}

/** Adds a managed shared NFS SR with one PBD per host. */
export function addNfsSR(b: Base, name: string, deviceConfig: Record<string, string>, address: string | null = `SR/${name}`): Ref {
  const { world } = b;
  const sr = world.add('SR', { name_label: name, name_description: '', type: 'nfs', content_type: 'user', shared: true, physical_size: 0, physical_utilisation: 0, PBDs: [], VDIs: [], tags: [], other_config: address ? mark(address) : {}, sm_config: {} });
  const pbds = b.hosts.map((h) => world.add('PBD', { host: h, SR: sr, device_config: deviceConfig, currently_attached: true, other_config: {} }));
  world.set('SR', sr, { PBDs: pbds });
  return sr;
}

// ---- manifests ----

function meta(kind: string, name: string, extra: Partial<ManifestMeta> = {}): ManifestMeta {
  return { name, labels: {}, annotations: {}, source: { file: `${kind.toLowerCase()}s.yaml`, line: 1, col: 1 }, ...extra };
}
export const live = (name: string): Reference => ({ name, target: 'live', checked: false });
export const manifestRef = (name: string): Reference => ({ name, target: 'manifest', checked: true });

export function vm(name: string, spec: Partial<DesiredVM['spec']> = {}, m: Partial<ManifestMeta> = {}): DesiredVM {
  const memory = spec.memory ?? 2 * GiB;
  const vcpus = spec.vcpus ?? 2;
  return {
    kind: 'VM', meta: meta('VM', name, m),
    spec: {
      nameLabel: name, template: live('Debian Bookworm 12'), vcpus, vcpusMax: vcpus, memory, memoryMax: memory,
      disks: [], networks: [], powerState: 'running', tags: [], otherConfig: {}, ...spec,
    },
  };
}
export function network(name: string, spec: Partial<DesiredNetwork['spec']> = {}): DesiredNetwork {
  return { kind: 'Network', meta: meta('Network', name), spec: { nameLabel: name, tags: [], otherConfig: {}, ...spec } };
}
export function sr(name: string, spec: Partial<DesiredSR['spec']> = {}): DesiredSR {
  return { kind: 'SR', meta: meta('SR', name), spec: { nameLabel: name, type: 'nfs', shared: true, contentType: 'user', deviceConfig: {}, tags: [], ...spec } };
}
export function poolManifest(spec: DesiredPool['spec']): DesiredPool {
  return { kind: 'Pool', meta: meta('Pool', 'demo'), spec };
}
export function host(name: string, spec: Partial<DesiredHost['spec']> = {}): DesiredHost {
  return { kind: 'Host', meta: meta('Host', name), spec: { name, ...spec } };
}
export function appliance(name: string, members: DesiredVMAppliance['spec']['members']): DesiredVMAppliance {
  return { kind: 'VMAppliance', meta: meta('VMAppliance', name), spec: { nameLabel: name, members } };
}
export function policy(automation: AutomationSettings, match?: DesiredPolicy['spec']['match']): DesiredPolicy {
  return { kind: 'Policy', meta: meta('Policy', 'automation'), spec: { admission: [], automation, match } };
}

export function desiredState(parts: Partial<Omit<DesiredState, 'source' | 'documents'>>): DesiredState {
  return {
    source: { commit: 'abc123', path: '.' }, hosts: [], networks: [], srs: [], disks: [], vms: [], appliances: [], snapshotSchedules: [], vmGroups: [], policies: [], documents: [],
    ...parts,
  };
}
