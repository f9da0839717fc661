import type { SimDatabase } from '../database.js';
import { EPOCH, NULL_REF, newMac, xapiDate } from '../ids.js';
import { diskNumberOf, linuxDeviceName, vbdAllowedOperations, vifAllowedOperations } from './devices.js';
import { featureRefusal } from './guest-rules.js';
import { vmMemoryOverhead } from './memory.js';
import { initialUtilisation } from './sm.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** What a VM may do in each power state (advisory `allowed_operations`, recomputed after every change). */
const OPS_BY_STATE: Record<string, string[]> = {
  Halted: [
    'start',
    'start_on',
    'clone',
    'copy',
    'snapshot',
    'export',
    'destroy',
    'make_into_template',
    'metadata_export',
    'changing_memory_limits',
    'changing_static_range',
    'changing_dynamic_range',
    'changing_VCPUs',
    'changing_NVRAM',
    'provision',
  ],
  Running: [
    'clean_shutdown',
    'hard_shutdown',
    'shutdown',
    'clean_reboot',
    'hard_reboot',
    'suspend',
    'pause',
    'pool_migrate',
    'migrate_send',
    'snapshot',
    'checkpoint',
    'changing_dynamic_range',
    'changing_VCPUs_live',
    'metadata_export',
  ],
  Paused: ['unpause', 'hard_shutdown', 'shutdown', 'hard_reboot', 'snapshot', 'checkpoint', 'metadata_export'],
  Suspended: ['resume', 'resume_on', 'hard_shutdown', 'shutdown', 'snapshot', 'checkpoint', 'export', 'destroy', 'metadata_export'],
};

const TEMPLATE_OPS = ['clone', 'copy', 'provision', 'export', 'metadata_export', 'destroy'];

/**
 * The advisory allowed_operations of a VM: what its power state permits, minus what a live HVM guest without PV
 * drivers cannot co-operate with (clean shutdown/reboot, suspend, checkpoint, migration, live vCPU changes).
 */
export function vmAllowedOperations(db: SimDatabase, vm: string): string[] {
  const rec = db.record(vm);
  if (rec.is_control_domain) return [];
  if (rec.is_a_template) return rec.is_default_template ? TEMPLATE_OPS.filter((o) => o !== 'destroy') : TEMPLATE_OPS;
  return (OPS_BY_STATE[rec.power_state as string] ?? []).filter((o) => o !== 'provision' && !featureRefusal(db, vm, o, true));
}

/** Options for a new VM; memory and VCPU values are bytes and counts. */
export interface VmInit {
  name_label: string;
  name_description?: string;
  memory?: number;
  vcpus?: number;
  is_a_template?: boolean;
  is_default_template?: boolean;
  is_control_domain?: boolean;
  other_config?: Record<string, string>;
  power_state?: 'Halted' | 'Running' | 'Paused' | 'Suspended';
  resident_on?: string;
  extra?: Record<string, unknown>;
}

/** The full constructor record of a plain HVM guest, as XAPI's templates would produce it. */
export function vmRecord(init: VmInit): Record<string, unknown> {
  const memory = init.memory ?? GiB;
  const vcpus = init.vcpus ?? 1;
  return {
    name_label: init.name_label,
    name_description: init.name_description ?? '',
    power_state: init.power_state ?? 'Halted',
    user_version: 1,
    is_a_template: init.is_a_template ?? false,
    is_default_template: init.is_default_template ?? false,
    is_control_domain: init.is_control_domain ?? false,
    affinity: NULL_REF,
    memory_target: memory,
    memory_static_max: memory,
    memory_dynamic_max: memory,
    memory_dynamic_min: memory,
    memory_static_min: Math.min(memory, 512 * MiB),
    VCPUs_params: {},
    VCPUs_max: vcpus,
    VCPUs_at_startup: vcpus,
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    PV_bootloader: '',
    PV_kernel: '',
    PV_ramdisk: '',
    PV_args: '',
    PV_bootloader_args: '',
    PV_legacy_args: '',
    HVM_boot_policy: init.is_control_domain ? '' : 'BIOS order',
    HVM_boot_params: init.is_control_domain ? {} : { order: 'cdn' },
    platform: init.is_control_domain ? {} : { viridian: 'false', acpi: '1', apic: 'true', pae: 'true', nx: 'true', 'device-model': 'qemu-upstream-compat' },
    PCI_bus: '',
    other_config: init.other_config ?? {},
    recommendations: init.is_a_template
      ? '<restrictions><restriction field="memory-static-max" max="1649267441664"/><restriction field="vcpus-max" max="32"/></restrictions>'
      : '',
    domain_type: init.is_control_domain ? 'pv' : 'hvm',
    resident_on: init.resident_on ?? NULL_REF,
    ...init.extra,
  };
}

/** Adds a VM with its VM_metrics row (XAPI makes one in VM.create, so even a Halted VM has metrics). */
export function createVm(db: SimDatabase, fields: Record<string, unknown>): string {
  const running = fields.power_state === 'Running' || fields.power_state === 'Paused';
  const metrics = db.create('VM_metrics', {
    memory_actual: running ? fields.memory_dynamic_max : 0,
    VCPUs_number: running ? fields.VCPUs_at_startup : 0,
    VCPUs_CPU: {},
    VCPUs_params: {},
    VCPUs_flags: {},
    state: [],
    start_time: running ? xapiDate() : EPOCH,
    install_time: xapiDate(),
    last_updated: xapiDate(),
    current_domain_type: running ? (fields.domain_type ?? 'hvm') : 'unspecified',
  });
  const ref = db.create('VM', { ...fields, metrics, domid: running ? 1 : -1 });
  db.set(ref, 'memory_overhead', vmMemoryOverhead(db.record(ref)));
  db.set(ref, 'allowed_operations', vmAllowedOperations(db, ref));
  return ref;
}

/**
 * Adds a VDI in `sr` and accounts for it in the SR: virtual_allocation grows by its size, physical_utilisation by
 * what the backend allocates now (everything on a thick SR or with `fully_allocated`, a quarter on a thin one).
 */
export function createVdi(
  db: SimDatabase,
  init: {
    sr: string;
    name_label: string;
    virtual_size: number;
    type?: string;
    sharable?: boolean;
    read_only?: boolean;
    other_config?: Record<string, string>;
    sm_config?: Record<string, string>;
    fully_allocated?: boolean;
  },
): string {
  const srRec = db.get(init.sr)?.rec;
  const physical = init.fully_allocated ? init.virtual_size : srRec ? initialUtilisation(srRec, init.virtual_size) : Math.floor(init.virtual_size / 4);
  const ref = db.create('VDI', {
    name_label: init.name_label,
    SR: init.sr,
    virtual_size: init.virtual_size,
    physical_utilisation: physical,
    type: init.type ?? 'user',
    sharable: init.sharable ?? false,
    read_only: init.read_only ?? false,
    other_config: init.other_config ?? {},
    storage_lock: false,
    managed: true,
    missing: false,
    parent: NULL_REF,
    sm_config: init.sm_config ?? {},
    location: '',
    allowed_operations: ['clone', 'copy', 'destroy', 'resize', 'snapshot', 'update', 'forget'],
  });
  db.set(ref, 'location', db.record(ref).uuid as string);
  adjustSr(db, init.sr, init.virtual_size, physical);
  return ref;
}

/** Adds (or with negative values, removes) a VDI's sizes to its SR's accounting. */
export function adjustSr(db: SimDatabase, sr: string, virtual: number, physical: number): void {
  const o = db.get(sr);
  if (!o || o.cls.name !== 'SR') return;
  db.update(sr, {
    virtual_allocation: Math.max(0, (o.rec.virtual_allocation as number) + virtual),
    physical_utilisation: Math.max(0, (o.rec.physical_utilisation as number) + physical),
  });
}

/** The attachment, QoS and metrics fields a new VBD and a new VIF start with (XAPI's defaults). */
function deviceState(attached: boolean, metrics: string): Record<string, unknown> {
  return {
    currently_attached: attached,
    status_code: 0,
    status_detail: '',
    runtime_properties: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
    qos_supported_algorithms: [],
    metrics,
  };
}

/** Adds a VBD (disk or CD) linking `vm` and `vdi`. */
export function createVbd(
  db: SimDatabase,
  init: { vm: string; vdi: string; userdevice: string; bootable?: boolean; type?: 'Disk' | 'CD'; mode?: 'RW' | 'RO'; unpluggable?: boolean; other_config?: Record<string, string>; empty?: boolean },
): string {
  const attached = db.record(init.vm).power_state === 'Running' || db.record(init.vm).power_state === 'Paused';
  const metrics = db.create('VBD_metrics', { io_read_kbs: 0, io_write_kbs: 0, last_updated: xapiDate() });
  const vbd = db.create('VBD', {
    VM: init.vm,
    VDI: init.vdi,
    userdevice: init.userdevice,
    device: attached && !init.empty ? linuxDeviceName(diskNumberOf(init.userdevice) ?? 0) : '',
    bootable: init.bootable ?? false,
    mode: init.mode ?? 'RW',
    type: init.type ?? 'Disk',
    unpluggable: init.unpluggable ?? true,
    storage_lock: false,
    empty: init.empty ?? false,
    other_config: init.other_config ?? {},
    ...deviceState(attached, metrics),
  });
  db.set(vbd, 'allowed_operations', vbdAllowedOperations(db, vbd));
  return vbd;
}

/** Adds a VIF; a MAC is generated unless given. */
export function createVif(db: SimDatabase, init: { vm: string; network: string; device: string; MAC?: string; other_config?: Record<string, string>; macSeed?: number }): string {
  const attached = db.record(init.vm).power_state === 'Running' || db.record(init.vm).power_state === 'Paused';
  const mac = init.MAC && init.MAC !== '' ? init.MAC : newMac(init.macSeed);
  const metrics = db.create('VIF_metrics', { io_read_kbs: 0, io_write_kbs: 0, last_updated: xapiDate() });
  const vif = db.create('VIF', {
    device: init.device,
    network: init.network,
    VM: init.vm,
    MAC: mac,
    MAC_autogenerated: !init.MAC,
    MTU: (db.get(init.network)?.rec.MTU as number) || 1500,
    other_config: init.other_config ?? {},
    ...deviceState(attached, metrics),
    locking_mode: 'network_default',
  });
  db.set(vif, 'allowed_operations', vifAllowedOperations(db, vif));
  return vif;
}

/** The provisioning XML real templates carry in other_config["disks"]. */
export function disksXml(disks: readonly { device: string; size: number; sr?: string; bootable?: boolean; type?: string }[]): string {
  return (
    '<provision>' +
    disks.map((d) => `<disk device="${d.device}" size="${d.size}" sr="${d.sr ?? ''}" bootable="${d.bootable ?? d.device === '0'}" type="${d.type ?? 'system'}"/>`).join('') +
    '</provision>'
  );
}

/** Parses other_config["disks"]; attributes in any order, self-closing or not. */
export function parseDisksXml(xml: string): { device: string; size: number; sr: string; bootable: boolean; type: string }[] {
  const out: { device: string; size: number; sr: string; bootable: boolean; type: string }[] = [];
  for (const m of xml.matchAll(/<disk\b([^>]*)\/?>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of m[1]!.matchAll(/([A-Za-z_-]+)\s*=\s*"([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    out.push({
      device: attrs.device ?? String(out.length),
      size: Number(attrs.size ?? 0),
      sr: attrs.sr ?? '',
      bootable: attrs.bootable === 'true',
      type: attrs.type ?? 'system',
    });
  }
  return out;
}
