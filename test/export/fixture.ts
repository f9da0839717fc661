/**
 * A small hand-built pool snapshot for the export unit tests: records carry XAPI's wire field names,
 * and each test adds the objects its case is about.
 */
import type { ObservedClass, ObservedRecordTypes, ObservedState, Ref } from '../../src/model/observed.js';
import { NULL_REF, OBSERVED_CLASSES } from '../../src/model/observed.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

export class Pool {
  readonly state: ObservedState;
  private n = 0;
  constructor() {
    const records = Object.fromEntries(OBSERVED_CLASSES.map((c) => [c, new Map()])) as ObservedState['records'];
    this.state = { token: 't', observedAt: '2025-01-01T00:00:00.000Z', records };
  }
  add<C extends ObservedClass>(cls: C, fields: Partial<ObservedRecordTypes[C]>): Ref {
    const n = ++this.n;
    const ref = `OpaqueRef:${cls}-${n}`;
    this.state.records[cls].set(ref, { uuid: `${cls.toLowerCase()}-${String(n).padStart(4, '0')}`, ...fields } as ObservedRecordTypes[C]);
    return ref;
  }
  get<C extends ObservedClass>(cls: C, ref: Ref): ObservedRecordTypes[C] {
    return this.state.records[cls].get(ref)!;
  }
  set<C extends ObservedClass>(cls: C, ref: Ref, fields: Partial<ObservedRecordTypes[C]>): void {
    this.state.records[cls].set(ref, { ...this.get(cls, ref), ...fields });
  }

  host(name: string): Ref {
    return this.add('host', { name_label: name, name_description: '', PIFs: [], PBDs: [], resident_VMs: [], tags: [], other_config: {} });
  }
  network(name: string, fields: Partial<ObservedRecordTypes['network']> = {}): Ref {
    return this.add('network', { name_label: name, name_description: '', MTU: 1500, bridge: '', PIFs: [], VIFs: [], tags: [], other_config: {}, ...fields });
  }
  pif(network: Ref, host: Ref, fields: Partial<ObservedRecordTypes['PIF']>): Ref {
    const pif = this.add('PIF', {
      device: 'eth0', host, network, VLAN: -1, MAC: '', MTU: 1500, physical: false, management: false, currently_attached: true,
      VLAN_master_of: NULL_REF, VLAN_slave_of: [], bond_master_of: [], bond_slave_of: NULL_REF, other_config: {}, ...fields,
    });
    this.set('network', network, { PIFs: [...this.get('network', network).PIFs, pif] });
    return pif;
  }
  sr(name: string, type: string, hosts: Ref[], fields: Partial<ObservedRecordTypes['SR']> = {}, deviceConfig: Record<string, string> = {}): Ref {
    const sr = this.add('SR', {
      name_label: name, name_description: '', type, content_type: type === 'iso' ? 'iso' : 'user', shared: hosts.length > 1,
      physical_size: 0, physical_utilisation: 0, PBDs: [], VDIs: [], tags: [], other_config: {}, sm_config: {}, ...fields,
    });
    const pbds = hosts.map((host) => this.add('PBD', { host, SR: sr, device_config: deviceConfig, currently_attached: true, other_config: {} }));
    this.set('SR', sr, { PBDs: pbds });
    return sr;
  }
  vm(name: string, fields: Partial<ObservedRecordTypes['VM']> = {}): Ref {
    return this.add('VM', {
      name_label: name, name_description: '', power_state: 'Halted', is_a_template: false, is_a_snapshot: false,
      is_control_domain: false, resident_on: NULL_REF, affinity: NULL_REF, memory_static_min: 512 * MiB,
      memory_static_max: 2 * GiB, memory_dynamic_min: 2 * GiB, memory_dynamic_max: 2 * GiB, VCPUs_max: 2, VCPUs_at_startup: 2,
      VBDs: [], VIFs: [], appliance: NULL_REF, ha_restart_priority: '', order: 0, start_delay: 0, shutdown_delay: 0,
      snapshot_of: NULL_REF, snapshots: [], metrics: NULL_REF, guest_metrics: NULL_REF, tags: [], other_config: {},
      ...fields,
    });
  }
  template(name: string, fields: Partial<ObservedRecordTypes['VM']> = {}): Ref {
    return this.vm(name, { is_a_template: true, ...fields });
  }
  disk(vm: Ref, sr: Ref, label: string, size: number, fields: Partial<ObservedRecordTypes['VBD']> = {}): Ref {
    const vdi = this.add('VDI', {
      name_label: label, name_description: '', SR: sr, VBDs: [], virtual_size: size, type: 'user', sharable: false,
      read_only: false, is_a_snapshot: false, tags: [], other_config: {},
    });
    const vbd = this.add('VBD', {
      VM: vm, VDI: vdi, userdevice: String(this.get('VM', vm).VBDs.length), device: '', bootable: false, mode: 'RW',
      type: 'Disk', empty: false, currently_attached: false, other_config: {}, ...fields,
    });
    this.set('VDI', vdi, { VBDs: [vbd] });
    this.set('VM', vm, { VBDs: [...this.get('VM', vm).VBDs, vbd] });
    return vdi;
  }
  vif(vm: Ref, network: Ref, device: string, mac = ''): Ref {
    const vif = this.add('VIF', { VM: vm, network, device, MAC: mac, MTU: 1500, currently_attached: false, other_config: {} });
    this.set('VM', vm, { VIFs: [...this.get('VM', vm).VIFs, vif] });
    return vif;
  }
}
