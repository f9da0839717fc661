import { createVbd, createVdi, createVif, createVm, disksXml, GiB, MiB, vmRecord } from '../behaviour/objects.js';
import type { SimDatabase } from '../database.js';
import { refreshDeviceOperations } from '../behaviour/devices.js';
import type { GuestAgents, GuestProfile } from '../behaviour/guest.js';
import { NO_GUEST, parseGuestProfile } from '../behaviour/guest.js';
import { refreshHostMemory } from '../behaviour/memory.js';
import { NULL_REF, xapiDate } from '../ids.js';
import type { SeedDocument, SeedVm } from './format.js';
import { parseSize } from './format.js';

/** What the seed produced that the server needs to know. */
export interface SeededPool {
  readonly pool: string;
  /** Host refs in seed order; index i answers on the i-th address. */
  readonly hosts: string[];
}

const SM_TYPES: Record<string, string> = {
  nfs: 'NFS VHD',
  lvm: 'Local LVM',
  lvmoiscsi: 'LVM over iSCSI',
  ext: 'Local EXT3 VHD',
  smb: 'SMB VHD',
  iso: 'ISO',
  udev: 'removable storage',
};

/** What a seed VM or template with disks runs when the seed does not say. */
const GENERIC_LINUX: GuestProfile = { tools: true, os: { distro: 'linux', name: 'Linux' } };

/** A NIC MAC with an Intel OUI, stable per host and device so seeds look the same each run. */
function nicMac(host: number, nic: number): string {
  const b = [0xa0, 0x36, 0x9f, 0x10 + host, 0x20, nic];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * Builds a pool in `db` from a seed document. `addresses[i]` is host i's management address (what `host.address`
 * and its management PIF carry). `extraVms` adds `scale-vm-NNNN` VMs for scale work.
 */
export function buildPool(db: SimDatabase, seed: SeedDocument, addresses: readonly string[], extraVms = 0, guests?: GuestAgents): SeededPool {
  const install = (vm: string, v: SeedVm, where: string): void => {
    if (!guests) return;
    guests.setProfile(vm, v.guest ? parseGuestProfile(v.guest, where) : (v.disks ?? []).length > 0 ? GENERIC_LINUX : NO_GUEST);
    refreshDeviceOperations(db, vm);
  };
  const now = xapiDate();
  const hostsSeed = seed.hosts && seed.hosts.length > 0 ? seed.hosts : [{ name_label: 'xcp-host1' }];
  const byName = (cls: string, name: string): string => {
    const o = db.findByName(cls, name)[0];
    if (!o) throw new Error(`seed: no ${cls} named ${JSON.stringify(name)}`);
    return o.ref;
  };

  for (const [type, label] of Object.entries(SM_TYPES)) {
    db.create('SM', {
      name_label: label,
      name_description: `SR driver for ${label}`,
      type,
      vendor: 'xops simulator',
      copyright: '',
      version: '1.0',
      required_api_version: '1.0',
      configuration: {},
      capabilities: ['SR_PROBE', 'SR_UPDATE', 'VDI_CREATE', 'VDI_DELETE', 'VDI_ATTACH', 'VDI_DETACH', 'VDI_RESIZE', 'VDI_CLONE', 'VDI_SNAPSHOT'],
      features: { SR_PROBE: 1, SR_UPDATE: 1, VDI_CREATE: 1, VDI_DELETE: 1, VDI_RESIZE: 1, VDI_CLONE: 1, VDI_SNAPSHOT: 1 },
      driver_filename: `/opt/xensource/sm/${type.toUpperCase()}SR`,
    });
  }

  const hosts: string[] = [];
  hostsSeed.forEach((h, i) => {
    const memory = parseSize(h.memory, 64 * GiB);
    const cpus = h.cpus ?? 16;
    const metrics = db.create('host_metrics', { memory_total: memory, memory_free: memory - 4 * GiB, live: true, last_updated: now });
    const host = db.create('host', {
      name_label: h.name_label,
      name_description: 'Default install',
      API_version_major: 2,
      API_version_minor: 21,
      API_version_vendor: 'XenSource',
      API_version_vendor_implementation: {},
      enabled: true,
      software_version: {
        product_version: '8.3.0',
        product_version_text: '8.3',
        product_version_text_short: '8.3',
        platform_name: 'XCP',
        platform_version: '3.4.0',
        product_brand: 'XCP-ng',
        build_number: 'release/yangtze/master/58',
        xapi: '24.19',
        xen: '4.17.4-3',
        hostname: h.name_label,
        date: '2024-10-01',
      },
      other_config: { agent_start_time: '1700000000.', boot_time: '1700000000.', iscsi_iqn: `iqn.2024-01.com.example:${h.name_label}` },
      capabilities: ['xen-3.0-x86_64', 'hvm-3.0-x86_32', 'hvm-3.0-x86_32p', 'hvm-3.0-x86_64'],
      cpu_configuration: {},
      cpu_info: {
        cpu_count: String(cpus),
        socket_count: '1',
        vendor: 'GenuineIntel',
        speed: '2394.454',
        modelname: 'Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz',
        family: '6',
        model: '85',
        stepping: '7',
      },
      sched_policy: 'credit',
      supported_bootloaders: ['pygrub', 'eliloader'],
      logging: {},
      suspend_image_sr: NULL_REF,
      crash_dump_sr: NULL_REF,
      hostname: h.name_label,
      address: addresses[i] ?? '',
      metrics,
      license_params: { sku_type: 'free' },
      edition: 'xcp-ng',
      iscsi_iqn: `iqn.2024-01.com.example:${h.name_label}`,
      memory_overhead: 600 * MiB,
      allowed_operations: ['provision', 'evacuate', 'reboot', 'shutdown', 'vm_start', 'vm_resume', 'vm_migrate'],
    });
    hosts.push(host);
    for (let c = 0; c < Math.min(cpus, 4); c++) {
      db.create('host_cpu', {
        host,
        number: c,
        vendor: 'GenuineIntel',
        speed: 2394,
        modelname: 'Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz',
        family: 6,
        model: 85,
        stepping: '7',
        flags: 'fpu de tsc msr pae mce cx8 apic sep mca cmov pat clflush acpi mmx fxsr sse sse2',
        features: '',
        utilisation: 0.02,
      });
    }
    const dom0 = createVm(
      db,
      vmRecord({
        name_label: `Control domain on host: ${h.name_label}`,
        name_description: 'The domain which manages physical devices and manages other domains',
        is_control_domain: true,
        memory: 4 * GiB,
        vcpus: 8,
        power_state: 'Running',
        resident_on: host,
        extra: { affinity: host },
      }),
    );
    db.update(dom0, { domid: 0, memory_static_min: 4 * GiB });
    db.set(host, 'control_domain', dom0);
  });

  for (const n of seed.networks ?? []) {
    const network = db.create('network', {
      name_label: n.name_label,
      name_description: '',
      bridge: n.bridge ?? '',
      MTU: n.MTU ?? 1500,
      other_config: n.other_config ?? { automatic: 'true' },
      managed: true,
      allowed_operations: [],
    });
    if (!n.device) continue;
    const nic = Number(/(\d+)$/.exec(n.device)?.[1] ?? 0);
    hosts.forEach((host, i) => {
      const metrics = db.create('PIF_metrics', {
        io_read_kbs: 0,
        io_write_kbs: 0,
        carrier: true,
        vendor_id: '8086',
        vendor_name: 'Intel Corporation',
        device_id: '1521',
        device_name: 'I350 Gigabit Network Connection',
        speed: 1000,
        duplex: true,
        pci_bus_path: `0000:01:00.${nic}`,
        last_updated: now,
      });
      const mgmt = n.management === true;
      db.create('PIF', {
        device: n.device,
        network,
        host,
        MAC: nicMac(i, nic),
        MTU: n.MTU ?? 1500,
        VLAN: -1,
        metrics,
        physical: true,
        currently_attached: true,
        management: mgmt,
        ip_configuration_mode: mgmt ? 'Static' : 'None',
        IP: mgmt ? (addresses[i] ?? '') : '',
        netmask: mgmt ? '255.255.255.0' : '',
        gateway: mgmt ? '192.168.1.1' : '',
        DNS: mgmt ? '192.168.1.1' : '',
        bond_slave_of: NULL_REF,
        VLAN_master_of: NULL_REF,
        disallow_unplug: mgmt,
        managed: true,
        properties: { gro: 'on' },
        capabilities: ['fcoe'],
        primary_address_type: 'IPv4',
      });
    });
  }

  for (const s of seed.srs ?? []) {
    const shared = s.shared ?? false;
    const size = parseSize(s.size, 500 * GiB);
    const sr = db.create('SR', {
      name_label: s.name_label,
      name_description: shared ? `${s.type.toUpperCase()} SR` : '',
      virtual_allocation: 0,
      physical_utilisation: 0,
      physical_size: size,
      type: s.type,
      content_type: s.content_type ?? (s.type === 'iso' ? 'iso' : 'user'),
      shared,
      other_config: s.type === 'iso' ? { i18n_key: 'xenserver-tools' } : {},
      sm_config: s.type === 'iso' ? {} : { allocation: s.type === 'lvm' ? 'thick' : 'thin' },
      allowed_operations: ['vdi_create', 'vdi_destroy', 'vdi_resize', 'vdi_clone', 'vdi_snapshot', 'scan', 'update', 'plug', 'unplug', 'destroy', 'forget', 'pbd_create', 'pbd_destroy'],
      is_tools_sr: s.name_label === 'XCP-ng Tools',
    });
    const pbdHosts = shared ? hosts : [s.host ? byName('host', s.host) : hosts[0]!];
    for (const host of pbdHosts) {
      db.create('PBD', { host, SR: sr, device_config: { ...(s.device_config ?? {}) }, currently_attached: true, other_config: {} });
    }
    for (const iso of s.isos ?? []) {
      createVdi(db, { sr, name_label: iso, virtual_size: 40 * MiB, type: 'user', read_only: true, sharable: true });
    }
  }

  // An installer points each host's suspend and crash-dump SR at its local storage.
  for (const host of hosts) {
    const local = [...db.all('SR')].find(
      (sr) => !sr.rec.shared && sr.rec.content_type !== 'iso' && (sr.rec.PBDs as string[]).some((p) => db.get(p)?.rec.host === host),
    );
    if (local) db.update(host, { suspend_image_sr: local.ref, crash_dump_sr: local.ref });
  }

  const defaultSr = seed.pool?.default_SR ? byName('SR', seed.pool.default_SR) : NULL_REF;
  const pool = db.create('pool', {
    name_label: seed.pool?.name_label ?? 'pool',
    name_description: seed.pool?.name_description ?? '',
    master: hosts[0]!,
    default_SR: defaultSr,
    suspend_image_SR: defaultSr,
    crash_dump_SR: defaultSr,
    other_config: { ...(seed.pool?.other_config ?? {}) },
    tags: seed.pool?.tags ?? [],
    cpu_info: { cpu_count: String(16 * hosts.length), socket_count: String(hosts.length), vendor: 'GenuineIntel' },
    restrictions: { restrict_vlan: 'false', restrict_pooling: 'false', restrict_dmc: 'false' },
    metadata_VDIs: [],
    allowed_operations: [],
  });

  for (const t of seed.templates ?? []) {
    const disks = (t.disks ?? []).map((d, i) => ({ device: String(i), size: parseSize(d.size, 10 * GiB), sr: '', bootable: i === 0, type: 'system' }));
    const template = createVm(
      db,
      vmRecord({
        name_label: t.name_label,
        name_description: t.name_description ?? `Template for ${t.name_label}`,
        is_a_template: true,
        is_default_template: true,
        memory: parseSize(t.memory, 2 * GiB),
        vcpus: t.vcpus ?? 1,
        other_config: { default_template: 'true', disks: disksXml(disks), ...(t.other_config ?? {}) },
        extra: { tags: t.tags ?? [], ...(t.reference_label !== undefined ? { reference_label: t.reference_label } : {}) },
      }),
    );
    install(template, t, `seed template ${JSON.stringify(t.name_label)}`);
  }

  const addVm = (v: SeedVm, macSeed: number): void => {
    const host = v.power_state && v.power_state !== 'Halted' ? (v.host ? byName('host', v.host) : hosts[0]!) : NULL_REF;
    const vm = createVm(
      db,
      vmRecord({
        name_label: v.name_label,
        name_description: v.name_description ?? '',
        memory: parseSize(v.memory, GiB),
        vcpus: v.vcpus ?? 1,
        power_state: v.power_state ?? 'Halted',
        resident_on: v.power_state === 'Suspended' ? NULL_REF : host,
        other_config: { ...(v.other_config ?? {}) },
        extra: { tags: v.tags ?? [], ...(v.reference_label !== undefined ? { reference_label: v.reference_label } : {}) },
      }),
    );
    (v.disks ?? []).forEach((d, i) => {
      const sr = d.sr ? byName('SR', d.sr) : defaultSr;
      const vdi = createVdi(db, { sr, name_label: d.name_label ?? `${v.name_label} ${i}`, virtual_size: parseSize(d.size, 10 * GiB), type: i === 0 ? 'system' : 'user' });
      createVbd(db, { vm, vdi, userdevice: String(i), bootable: i === 0, unpluggable: i !== 0, other_config: { owner: '' } });
    });
    (v.networks ?? []).forEach((n, i) => createVif(db, { vm, network: byName('network', n), device: String(i), macSeed }));
    install(vm, v, `seed VM ${JSON.stringify(v.name_label)}`);
  };
  (seed.vms ?? []).forEach((v, i) => addVm(v, 0x10000 + i));

  if (extraVms > 0) {
    const management = [...db.all('network')].find((n) => (n.rec.PIFs as string[]).some((p) => db.get(p)?.rec.management));
    const networks = management ? [management.rec.name_label as string] : [];
    for (let i = 1; i <= extraVms; i++) {
      const disks = [{ size: 10 * GiB }];
      if (i % 2 === 0) disks.push({ size: 20 * GiB });
      addVm({ name_label: `scale-vm-${String(i).padStart(4, '0')}`, vcpus: 1, memory: 512 * MiB, disks, networks }, i);
    }
  }
  recomputeHostMemory(db);
  return { pool, hosts };
}

/** Brings every host's host_metrics.memory_free in line with the domains the seed put on it. */
export function recomputeHostMemory(db: SimDatabase): void {
  for (const h of db.all('host')) refreshHostMemory(db, h.ref);
}
