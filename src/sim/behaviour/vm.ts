import type { Call, Handler } from '../core.js';
import type { SimDatabase } from '../database.js';
import { XapiFailure, fail } from '../errors.js';
import { EPOCH, NULL_REF, newMac, newUuid, xapiDate } from '../ids.js';
import { constructorFields } from '../generic.js';
import { allowedVbdDevices, allowedVifDevices, diskNumberOf, linuxDeviceName, refreshDeviceOperations } from './devices.js';
import { featureRefusal } from './guest-rules.js';
import { assertSpace, initialUtilisation, vdiSizeFor } from './sm.js';
import { assertMemoryFits, hostReportedFreeMemory, refreshHostMemory, refreshVmOverhead } from './memory.js';
import { adjustSr, createVbd, createVdi, createVif, createVm, parseDisksXml, vmAllowedOperations } from './objects.js';
import { rankForGroup } from './vm-group.js';

type Power = 'Halted' | 'Running' | 'Paused' | 'Suspended';

/** Operations a (non-snapshot) template may still undergo; anything else fails VM_IS_TEMPLATE. */
const TEMPLATE_OK = new Set(['clone', 'copy', 'export', 'metadata_export', 'provision', 'destroy', 'snapshot', 'changing_memory_limits', 'changing_static_range', 'changing_dynamic_range', 'changing_VCPUs']);

/**
 * XAPI's check order for VM operations: blocked_operations, then power state (VM_BAD_POWER_STATE with lower-case
 * expected list and actual state), then template-ness, then what the guest must co-operate with.
 */
export function checkVmOperation(db: SimDatabase, vm: string, op: string, allowed: readonly Power[]): Record<string, unknown> {
  const rec = db.expect('VM', vm).rec;
  const blocked = rec.blocked_operations as Record<string, string>;
  if (blocked && Object.prototype.hasOwnProperty.call(blocked, op)) throw fail('OPERATION_BLOCKED', vm, blocked[op] ?? '');
  const state = rec.power_state as Power;
  if (!allowed.includes(state)) {
    throw fail('VM_BAD_POWER_STATE', vm, allowed.map((s) => s.toLowerCase()).join(', '), state.toLowerCase());
  }
  if (rec.is_a_template && !rec.is_a_snapshot && !TEMPLATE_OK.has(op)) throw fail('VM_IS_TEMPLATE', vm, op);
  if (rec.is_control_domain && !op.startsWith('changing_')) throw fail('OPERATION_NOT_ALLOWED', `Operation ${op} is not allowed on a control domain`);
  // The guest's co-operation, checked the permissive way XAPI does when the call is made (strict=false).
  const lacks = featureRefusal(db, vm, op, false);
  if (lacks) throw fail(lacks[0]!, ...lacks.slice(1));
  return rec;
}

/**
 * Sets a VM's power-related fields, its devices' attachment, metrics, guest agent state and the hosts' free memory
 * in one go.
 */
function setPower(c: Call, vm: string, state: Power, host: string): void {
  const db = c.db;
  const rec = db.record(vm);
  const oldHost = rec.resident_on as string;
  const live = state === 'Running' || state === 'Paused';
  const boots = live && (rec.power_state === 'Halted' || rec.power_state === 'Suspended');
  const patch: Record<string, unknown> = { power_state: state, resident_on: live ? host : NULL_REF };
  if (boots) patch.domid = nextDomid(db);
  if (!live) patch.domid = -1;
  db.update(vm, patch);
  for (const vbd of rec.VBDs as string[]) {
    const v = db.get(vbd);
    if (!v) continue;
    const attach = live && !v.rec.empty;
    if (v.rec.currently_attached !== attach) {
      db.update(vbd, { currently_attached: attach, device: attach ? linuxDeviceName(diskNumberOf(String(v.rec.userdevice)) ?? 0) : v.rec.device });
    }
  }
  for (const vif of rec.VIFs as string[]) {
    const v = db.get(vif);
    if (v && v.rec.currently_attached !== live) db.update(vif, { currently_attached: live });
  }
  const metrics = db.get(rec.metrics as string);
  if (metrics) {
    db.update(metrics.ref, {
      memory_actual: live ? rec.memory_dynamic_max : 0,
      VCPUs_number: live ? rec.VCPUs_at_startup : 0,
      start_time: live ? (rec.power_state === 'Halted' || rec.power_state === 'Suspended' ? xapiDate() : metrics.rec.start_time) : metrics.rec.start_time,
      state: state === 'Paused' ? ['paused'] : live ? ['running'] : [],
      current_domain_type: live ? rec.domain_type : 'unspecified',
      last_updated: xapiDate(),
    });
  }
  refreshHostMemory(db, oldHost);
  if (host !== oldHost) refreshHostMemory(db, host);
  if (boots) c.core.guests.booted(vm);
  else if (!live) c.core.guests.halted(vm);
  db.set(vm, 'allowed_operations', vmAllowedOperations(db, vm));
  refreshDeviceOperations(db, vm);
}

function nextDomid(db: SimDatabase): number {
  let max = 0;
  for (const vm of db.all('VM')) if ((vm.rec.domid as number) > max) max = vm.rec.domid as number;
  return max + 1;
}

/** XAPI's validate_basic_parameters, the checks every start makes. */
function validateForStart(rec: Record<string, unknown>): void {
  const max = rec.VCPUs_max as number;
  const atStartup = rec.VCPUs_at_startup as number;
  if (max < 1) throw fail('INVALID_VALUE', 'VCPUs_max', max);
  if (atStartup < 1) throw fail('INVALID_VALUE', 'VCPUs_at_startup', atStartup);
  if (atStartup > max) throw fail('VALUE_NOT_SUPPORTED', 'VCPUs-at-startup', atStartup, 'value greater than VCPUs-max');
  checkMemoryOrder(rec.memory_static_min as number, rec.memory_dynamic_min as number, rec.memory_dynamic_max as number, rec.memory_static_max as number);
}

function checkMemoryOrder(smin: number, dmin: number, dmax: number, smax: number): void {
  if (!(smin <= dmin && dmin <= dmax && dmax <= smax)) throw fail('MEMORY_CONSTRAINT_VIOLATION_ORDER');
}

/** Why `host` cannot run `vm` (as an exception), or nothing when it can; `memoryCheck: false` skips memory. */
export function assertCanBootHere(db: SimDatabase, vm: string, host: string, memoryCheck = true): void {
  const rec = db.record(vm);
  const h = db.expect('host', host).rec;
  if (!h.enabled) throw fail('HOST_DISABLED', host);
  const attachedSrs = new Set<string>();
  for (const pbd of h.PBDs as string[]) {
    const p = db.get(pbd)?.rec;
    if (p?.currently_attached) attachedSrs.add(p.SR as string);
  }
  for (const vbd of rec.VBDs as string[]) {
    const b = db.get(vbd)?.rec;
    if (!b || b.empty) continue;
    const sr = db.get(b.VDI as string)?.rec.SR as string | undefined;
    if (sr && !attachedSrs.has(sr)) throw fail('VM_REQUIRES_SR', vm, sr);
  }
  const hostNetworks = new Set((h.PIFs as string[]).map((p) => db.get(p)?.rec.network as string));
  for (const vif of rec.VIFs as string[]) {
    const net = db.get(vif)?.rec.network as string | undefined;
    const n = net ? db.get(net) : undefined;
    if (!n) continue;
    if ((n.rec.PIFs as string[]).length > 0) {
      if (!hostNetworks.has(net!)) throw fail('VM_REQUIRES_NETWORK', vm, net!);
      continue;
    }
    // Without PIFs (xen-api xapi_network_attach_helpers.ml, assert_can_see_named_networks): on every
    // host when unmanaged or assume_network_is_shared, else only where its running VMs are.
    const oc = (n.rec.other_config ?? {}) as Record<string, string>;
    if (oc.assume_network_is_shared === 'true' || n.rec.managed === false) continue;
    const hosts = (n.rec.VIFs as string[]).map((v) => db.get(db.get(v)?.rec.VM as string)?.rec).filter((r) => r?.power_state === 'Running').map((r) => r!.resident_on as string);
    if (hosts.length > 0 && !hosts.includes(host)) throw fail('VM_REQUIRES_NETWORK', vm, net!);
  }
  if (memoryCheck) assertMemoryFits(db, rec, host);
}

/**
 * Picks a host for `vm`: its affinity if that works, else the first host that can run it, hosts with fewer members
 * of its anti-affinity group first (see vm-group.ts).
 */
function chooseHost(db: SimDatabase, vm: string, hosts: readonly string[]): string {
  const affinity = db.record(vm).affinity as string;
  const ranked = rankForGroup(db, vm, hosts);
  const order = affinity && affinity !== NULL_REF && ranked.includes(affinity) ? [affinity, ...ranked.filter((h) => h !== affinity)] : ranked;
  let firstError: unknown;
  for (const h of order) {
    try {
      assertCanBootHere(db, vm, h);
      return h;
    } catch (e) {
      firstError ??= e;
    }
  }
  throw firstError ?? fail('NO_HOSTS_AVAILABLE');
}

function start(c: Call, vm: string, host: string | undefined, paused: boolean): void {
  const rec = checkVmOperation(c.db, vm, host ? 'start_on' : 'start', ['Halted']);
  validateForStart(rec);
  const target = host ?? chooseHost(c.db, vm, c.core.hostRefs());
  if (host) assertCanBootHere(c.db, vm, host);
  setPower(c, vm, paused ? 'Paused' : 'Running', target);
}

function reboot(c: Call, vm: string): void {
  const rec = c.db.record(vm);
  c.db.set(vm, 'domid', nextDomid(c.db));
  const m = c.db.get(rec.metrics as string);
  if (m) c.db.update(m.ref, { start_time: xapiDate(), state: ['running'], last_updated: xapiDate() });
  if (rec.power_state === 'Paused') setPower(c, vm, 'Running', rec.resident_on as string);
  // A reboot builds a new domain: the guest's agent starts over and reports again.
  c.core.guests.booted(vm);
}

/** Copies a VM (clone, copy, snapshot): new VM row, disks cloned or copied, VBDs and VIFs recreated. */
function copyVm(
  c: Call,
  vm: string,
  newName: string,
  mode: { kind: 'clone' | 'copy' | 'snapshot'; sr?: string; ignoreVdis?: readonly string[] },
): string {
  const db = c.db;
  const src = db.record(vm);
  const skip = new Set(['uuid', 'allowed_operations', 'current_operations', 'VBDs', 'VIFs', 'metrics', 'guest_metrics', 'consoles', 'crash_dumps', 'VTPMs', 'VUSBs', 'VGPUs', 'attached_PCIs', 'snapshots', 'children', 'resident_on', 'scheduled_to_be_resident_on', 'domid', 'power_state', 'snapshot_of', 'parent', 'suspend_VDI', 'appliance', 'snapshot_schedule', 'groups']);
  const fields: Record<string, unknown> = {};
  for (const f of db.classOf('VM').fields) {
    if (skip.has(f.name)) continue;
    const v = src[f.name];
    fields[f.name] = Array.isArray(v) ? v.slice() : v !== null && typeof v === 'object' ? { ...(v as object) } : v;
  }
  const other = fields.other_config as Record<string, string>;
  fields.name_label = newName;
  fields.power_state = 'Halted';
  fields.is_default_template = false;
  if (mode.kind === 'snapshot') {
    fields.is_a_snapshot = true;
    fields.is_a_template = true;
    fields.snapshot_of = vm;
    fields.snapshot_time = xapiDate();
  } else {
    fields.is_a_snapshot = false;
    fields.snapshot_time = EPOCH;
    fields.snapshot_of = NULL_REF;
    fields.parent = NULL_REF;
    delete other.default_template;
    other.mac_seed = newUuid();
    if (src.is_a_template && other.base_template_name === undefined) other.base_template_name = src.name_label as string;
  }
  // XAPI clones every disk before it makes the VM record (xapi_vm_clone.ml safe_clone_disks), so a backend
  // refusal leaves nothing behind. Snapshots leave out the VBDs of ignored VDIs altogether.
  const ignore = new Set(mode.kind === 'snapshot' ? (mode.ignoreVdis ?? []) : []);
  const vbds = (src.VBDs as string[]).map((r) => db.get(r)?.rec).filter((v): v is Record<string, unknown> => !!v && !ignore.has(v.VDI as string));
  const wanted = new Map<string, number>();
  const clones = vbds.map((vbd) => {
    const srcVdi = db.get(vbd.VDI as string)?.rec;
    if (!srcVdi || vbd.empty || vbd.type !== 'Disk') return undefined;
    const sr = mode.kind === 'copy' && mode.sr && mode.sr !== NULL_REF ? mode.sr : (srcVdi.SR as string);
    const srRec = db.expect('SR', sr).rec;
    if (srRec.type === 'iso') throw fail('OPERATION_NOT_ALLOWED', "Cannot copy a VM's disks to an ISO SR");
    wanted.set(sr, (wanted.get(sr) ?? 0) + initialUtilisation(srRec, srcVdi.virtual_size as number));
    return { srcVdi, sr };
  });
  for (const [sr, bytes] of wanted) assertSpace(db, sr, bytes);
  const copy = createVm(db, fields);
  c.core.guests.inherit(vm, copy);
  vbds.forEach((vbd, i) => {
    let vdi = vbd.VDI as string;
    const clone = clones[i];
    if (clone) {
      const { srcVdi, sr } = clone;
      const newVdi = createVdi(db, {
        sr,
        name_label: srcVdi.name_label as string,
        virtual_size: srcVdi.virtual_size as number,
        type: srcVdi.type as string,
        sharable: srcVdi.sharable as boolean,
        read_only: srcVdi.read_only as boolean,
        other_config: { ...(srcVdi.other_config as Record<string, string>) },
        sm_config: { ...(srcVdi.sm_config as Record<string, string>) },
      });
      db.update(newVdi, {
        name_description: srcVdi.name_description,
        ...(mode.kind === 'snapshot' ? { is_a_snapshot: true, snapshot_of: vdi, snapshot_time: xapiDate() } : {}),
      });
      vdi = newVdi;
    }
    // Xapi_vbd_helpers.copy keeps userdevice, device, bootable, mode, type, unpluggable, other_config and QoS;
    // the copy "owns" its cloned disks (other_config owner="" on Disk VBDs). CDs keep pointing at the same ISO.
    const other = { ...(vbd.other_config as Record<string, string>) };
    if (vbd.type === 'Disk' && !('owner' in other)) other.owner = '';
    const newVbd = createVbd(db, {
      vm: copy,
      vdi: vbd.empty ? NULL_REF : vdi,
      userdevice: vbd.userdevice as string,
      bootable: vbd.bootable as boolean,
      type: vbd.type as 'Disk',
      mode: vbd.mode as 'RW',
      unpluggable: vbd.unpluggable as boolean,
      empty: vbd.empty as boolean,
      other_config: other,
    });
    db.update(newVbd, { device: vbd.device, qos_algorithm_type: vbd.qos_algorithm_type, qos_algorithm_params: { ...(vbd.qos_algorithm_params as Record<string, string>) } });
  });
  for (const vifRef of src.VIFs as string[]) {
    const vif = db.get(vifRef)?.rec;
    if (!vif) continue;
    createVif(db, {
      vm: copy,
      network: vif.network as string,
      device: vif.device as string,
      MAC: mode.kind === 'snapshot' ? (vif.MAC as string) : newMac(),
      other_config: { ...(vif.other_config as Record<string, string>) },
    });
  }
  return copy;
}


function destroyVm(c: Call, vm: string): void {
  const db = c.db;
  const rec = db.record(vm);
  c.core.guests.forget(vm);
  for (const vbd of [...(rec.VBDs as string[])]) {
    const m = db.get(vbd)?.rec.metrics as string | undefined;
    db.destroy(vbd);
    if (m && db.get(m)) db.destroy(m);
  }
  for (const vif of [...(rec.VIFs as string[])]) {
    const m = db.get(vif)?.rec.metrics as string | undefined;
    db.destroy(vif);
    if (m && db.get(m)) db.destroy(m);
  }
  for (const side of [rec.metrics, rec.guest_metrics] as string[]) if (db.get(side)) db.destroy(side);
  for (const g of (rec.groups as string[] | undefined) ?? []) if (db.get(g)) db.mutate(g, 'VMs', (s: string[]) => s.splice(s.indexOf(vm), 1));
  db.destroy(vm);
}

const vmArg = (c: Call): string => c.db.expect('VM', c.args[0]).ref;

function setMemoryLimits(c: Call, vm: string, smin: number, smax: number, dmin: number, dmax: number): void {
  const rec = c.db.record(vm);
  checkVmOperation(c.db, vm, 'changing_memory_limits', rec.is_control_domain ? ['Halted', 'Running'] : ['Halted']);
  checkMemoryOrder(smin, dmin, dmax, smax);
  c.db.update(vm, { memory_static_min: smin, memory_static_max: smax, memory_dynamic_min: dmin, memory_dynamic_max: dmax, memory_target: dmin });
  refreshVmOverhead(c.db, vm);
}

function setStaticRange(c: Call, vm: string, min: number, max: number): void {
  const rec = checkVmOperation(c.db, vm, 'changing_static_range', ['Halted']);
  checkMemoryOrder(min, rec.memory_dynamic_min as number, rec.memory_dynamic_max as number, max);
  c.db.update(vm, { memory_static_min: min, memory_static_max: max });
  refreshVmOverhead(c.db, vm);
}

function setDynamicRange(c: Call, vm: string, min: number, max: number): void {
  const rec = checkVmOperation(c.db, vm, 'changing_dynamic_range', ['Halted', 'Running']);
  checkMemoryOrder(rec.memory_static_min as number, min, max, rec.memory_static_max as number);
  if (rec.power_state === 'Running') {
    const host = rec.resident_on as string;
    const extra = max - (rec.memory_dynamic_max as number);
    if (extra > 0 && extra > hostReportedFreeMemory(c.db, host)) throw fail('HOST_NOT_ENOUGH_FREE_MEMORY', extra, hostReportedFreeMemory(c.db, host));
  }
  c.db.update(vm, { memory_dynamic_min: min, memory_dynamic_max: max, memory_target: min });
  if (rec.power_state === 'Running') {
    const m = c.db.get(rec.metrics as string);
    if (m) c.db.set(m.ref, 'memory_actual', max);
    refreshHostMemory(c.db, rec.resident_on as string);
  }
}

const int = (v: unknown): number => v as number;

/** VM.* behaviour: lifecycle, copies, provisioning, memory and VCPU rules, migration. */
export function vmHandlers(): Record<string, Handler> {
  return {
    'VM.create': (c) => {
      const fields = constructorFields(c.db, c.db.classOf('VM'), c.args[0] as Record<string, unknown>);
      // A new VM is Halted unless it is created Suspended with its suspend image.
      if (fields.power_state !== 'Suspended') fields.power_state = 'Halted';
      fields.resident_on = NULL_REF;
      return createVm(c.db, fields);
    },
    'VM.destroy': (c) => {
      const vm = vmArg(c);
      const rec = c.db.record(vm);
      if (rec.is_control_domain) throw fail('OPERATION_NOT_ALLOWED', 'Cannot destroy a control domain');
      checkVmOperation(c.db, vm, 'destroy', ['Halted', 'Suspended']);
      if (rec.is_default_template) throw fail('VM_IS_TEMPLATE', vm, 'destroy');
      destroyVm(c, vm);
    },
    'VM.start': (c) => start(c, vmArg(c), undefined, c.args[1] as boolean),
    'VM.start_on': (c) => start(c, vmArg(c), c.db.expect('host', c.args[1]).ref, c.args[2] as boolean),
    'VM.clean_shutdown': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'clean_shutdown', ['Running']);
      setPower(c, vm, 'Halted', NULL_REF);
    },
    'VM.hard_shutdown': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'hard_shutdown', ['Running', 'Paused', 'Suspended']);
      destroySuspendImage(c.db, vm);
      setPower(c, vm, 'Halted', NULL_REF);
    },
    'VM.shutdown': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'shutdown', ['Running', 'Paused', 'Suspended']);
      destroySuspendImage(c.db, vm);
      setPower(c, vm, 'Halted', NULL_REF);
    },
    'VM.clean_reboot': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'clean_reboot', ['Running']);
      reboot(c, vm);
    },
    'VM.hard_reboot': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'hard_reboot', ['Running', 'Paused']);
      reboot(c, vm);
    },
    'VM.pause': (c) => {
      const vm = vmArg(c);
      const rec = checkVmOperation(c.db, vm, 'pause', ['Running']);
      setPower(c, vm, 'Paused', rec.resident_on as string);
    },
    'VM.unpause': (c) => {
      const vm = vmArg(c);
      const rec = checkVmOperation(c.db, vm, 'unpause', ['Paused']);
      setPower(c, vm, 'Running', rec.resident_on as string);
    },
    'VM.suspend': (c) => {
      const vm = vmArg(c);
      const rec = checkVmOperation(c.db, vm, 'suspend', ['Running']);
      const sr = chooseSuspendSr(c, vm);
      // xapi_xenops.ml suspend: static_max * 1.2 * 1.05 + 100 MiB, fully inflated even on thin SRs.
      const size = Math.floor((rec.memory_static_max as number) * 1.2 * 1.05) + 100 * 1024 * 1024;
      try {
        assertSpace(c.db, sr, size);
      } catch (e) {
        if (e instanceof XapiFailure && e.code === 'SR_BACKEND_FAILURE_44') throw fail('SR_SUSPEND_SPACE_INSUFFICIENT', sr);
        throw e;
      }
      const image = createVdi(c.db, { sr, name_label: 'Suspend image', virtual_size: size, type: 'suspend', fully_allocated: true, sm_config: { vmhint: rec.uuid as string, initial_allocation: String(size) } });
      c.db.set(image, 'name_description', 'Suspend image');
      setPower(c, vm, 'Suspended', NULL_REF);
      c.db.set(vm, 'suspend_VDI', image);
    },
    'VM.resume': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'resume', ['Suspended']);
      const host = chooseHost(c.db, vm, c.core.hostRefs());
      destroySuspendImage(c.db, vm);
      setPower(c, vm, c.args[1] ? 'Paused' : 'Running', host);
    },
    'VM.resume_on': (c) => {
      const vm = vmArg(c);
      const host = c.db.expect('host', c.args[1]).ref;
      checkVmOperation(c.db, vm, 'resume_on', ['Suspended']);
      assertCanBootHere(c.db, vm, host);
      destroySuspendImage(c.db, vm);
      setPower(c, vm, c.args[2] ? 'Paused' : 'Running', host);
    },
    'VM.power_state_reset': (c) => {
      const vm = vmArg(c);
      setPower(c, vm, 'Halted', NULL_REF);
    },
    'VM.clone': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'clone', ['Halted']);
      return copyVm(c, vm, String(c.args[1]), { kind: 'clone' });
    },
    'VM.copy': (c) => {
      const vm = vmArg(c);
      const sr = c.args[2] as string;
      if (sr !== NULL_REF) c.db.expect('SR', sr);
      checkVmOperation(c.db, vm, 'copy', ['Halted']);
      return copyVm(c, vm, String(c.args[1]), { kind: 'copy', sr });
    },
    'VM.snapshot': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'snapshot', ['Halted', 'Running', 'Paused', 'Suspended']);
      return copyVm(c, vm, String(c.args[1]), { kind: 'snapshot', ignoreVdis: (c.args[2] as string[] | undefined) ?? [] });
    },
    'VM.checkpoint': (c) => {
      const vm = vmArg(c);
      checkVmOperation(c.db, vm, 'checkpoint', ['Running', 'Paused', 'Suspended']);
      return copyVm(c, vm, String(c.args[1]), { kind: 'snapshot' });
    },
    'VM.provision': (c) => provision(c, vmArg(c)),
    'VM.set_memory_limits': (c) => setMemoryLimits(c, vmArg(c), int(c.args[1]), int(c.args[2]), int(c.args[3]), int(c.args[4])),
    'VM.set_memory': (c) => {
      const vm = vmArg(c);
      const v = int(c.args[1]);
      setMemoryLimits(c, vm, c.db.record(vm).memory_static_min as number, v, v, v);
    },
    'VM.set_memory_static_range': (c) => setStaticRange(c, vmArg(c), int(c.args[1]), int(c.args[2])),
    'VM.set_memory_static_min': (c) => {
      const vm = vmArg(c);
      setStaticRange(c, vm, int(c.args[1]), c.db.record(vm).memory_static_max as number);
    },
    'VM.set_memory_static_max': (c) => {
      const vm = vmArg(c);
      setStaticRange(c, vm, c.db.record(vm).memory_static_min as number, int(c.args[1]));
    },
    'VM.set_memory_dynamic_range': (c) => setDynamicRange(c, vmArg(c), int(c.args[1]), int(c.args[2])),
    'VM.set_memory_dynamic_min': (c) => {
      const vm = vmArg(c);
      setDynamicRange(c, vm, int(c.args[1]), c.db.record(vm).memory_dynamic_max as number);
    },
    'VM.set_memory_dynamic_max': (c) => {
      const vm = vmArg(c);
      setDynamicRange(c, vm, c.db.record(vm).memory_dynamic_min as number, int(c.args[1]));
    },
    'VM.set_VCPUs_max': (c) => {
      const vm = vmArg(c);
      const v = int(c.args[1]);
      const rec = checkVmOperation(c.db, vm, 'changing_VCPUs', ['Halted']);
      if (v < 1) throw fail('INVALID_VALUE', 'VCPUs_max', v);
      if ((rec.VCPUs_at_startup as number) > v) throw fail('VALUE_NOT_SUPPORTED', 'VCPUs-max', v, 'value less than VCPUs-at-startup');
      c.db.set(vm, 'VCPUs_max', v);
      refreshVmOverhead(c.db, vm);
    },
    'VM.set_VCPUs_at_startup': (c) => {
      const vm = vmArg(c);
      const v = int(c.args[1]);
      const rec = checkVmOperation(c.db, vm, 'changing_VCPUs', ['Halted']);
      if (v < 1) throw fail('INVALID_VALUE', 'VCPUs_at_startup', v);
      if (v > (rec.VCPUs_max as number)) throw fail('VALUE_NOT_SUPPORTED', 'VCPUs-at-startup', v, 'value greater than VCPUs-max');
      c.db.set(vm, 'VCPUs_at_startup', v);
    },
    'VM.set_VCPUs_number_live': (c) => {
      const vm = vmArg(c);
      const v = int(c.args[1]);
      const rec = checkVmOperation(c.db, vm, 'changing_VCPUs_live', ['Running']);
      if (v < 1 || v > (rec.VCPUs_max as number)) throw fail('INVALID_VALUE', 'nvcpu', v);
      c.db.set(vm, 'VCPUs_at_startup', v);
      const m = c.db.get(rec.metrics as string);
      if (m) c.db.set(m.ref, 'VCPUs_number', v);
    },
    // Writes the key and hands it to the running domain's scheduler (cap, weight): only a running VM has one.
    'VM.add_to_VCPUs_params_live': (c) => {
      const vm = vmArg(c);
      const state = c.db.record(vm).power_state as Power;
      if (state !== 'Running') throw fail('VM_BAD_POWER_STATE', vm, 'running', state.toLowerCase());
      c.db.mutate(vm, 'VCPUs_params', (m: Record<string, string>) => { m[String(c.args[1])] = String(c.args[2]); });
    },
    'VM.set_ha_restart_priority': (c) => {
      const vm = vmArg(c);
      const v = String(c.args[1]);
      if (!['', 'restart', 'best-effort'].includes(v)) throw fail('INVALID_VALUE', 'ha_restart_priority', v);
      c.db.set(vm, 'ha_restart_priority', v);
    },
    'VM.set_ha_always_run': (c) => c.db.set(vmArg(c), 'ha_always_run', c.args[1]),
    'VM.pool_migrate': (c) => {
      const vm = vmArg(c);
      const host = c.db.expect('host', c.args[1]).ref;
      const rec = checkVmOperation(c.db, vm, 'pool_migrate', ['Running']);
      if (rec.resident_on === host) return;
      assertCanBootHere(c.db, vm, host);
      setPower(c, vm, 'Running', host);
    },
    'VM.get_allowed_VBD_devices': (c) => allowedVbdDevices(c.db, vmArg(c)),
    'VM.get_allowed_VIF_devices': (c) => allowedVifDevices(c.db, vmArg(c)),
    'VM.get_possible_hosts': (c) => {
      const vm = vmArg(c);
      return c.core.hostRefs().filter((h) => {
        try {
          assertCanBootHere(c.db, vm, h);
          return true;
        } catch {
          return false;
        }
      });
    },
    'VM.assert_can_boot_here': (c) => assertCanBootHere(c.db, vmArg(c), c.db.expect('host', c.args[1]).ref),
    'VM.set_is_a_template': (c) => {
      const vm = vmArg(c);
      const v = c.args[1] as boolean;
      if (v) checkVmOperation(c.db, vm, 'make_into_template', ['Halted']);
      c.db.set(vm, 'is_a_template', v);
      c.db.set(vm, 'allowed_operations', vmAllowedOperations(c.db, vm));
    },
    'VM.set_appliance': (c) => {
      const vm = vmArg(c);
      const app = c.args[1] as string;
      if (app !== NULL_REF) c.db.expect('VM_appliance', app);
      c.db.set(vm, 'appliance', app);
    },
    // xen-api ocaml/xapi/xapi_vtpm.ml: one vTPM per VM (VTPM_MAX_AMOUNT_REACHED with the count there is),
    // checked before the power state; create needs the VM Halted, destroy Halted or Suspended.
    'VTPM.create': (c) => {
      const vm = c.db.expect('VM', c.args[0]).ref;
      const rec = c.db.record(vm);
      const existing = rec.VTPMs as string[];
      if (existing.length > 0) throw fail('VTPM_MAX_AMOUNT_REACHED', String(existing.length));
      if (rec.power_state !== 'Halted') throw fail('VM_BAD_POWER_STATE', vm, 'halted', String(rec.power_state).toLowerCase());
      return c.db.create('VTPM', { VM: vm, is_unique: c.args[1] === true });
    },
    'VTPM.destroy': (c) => {
      const vtpm = c.db.expect('VTPM', c.args[0]).ref;
      const vm = c.db.record(vtpm).VM as string;
      const state = c.db.get(vm)?.rec.power_state;
      if (state !== undefined && state !== 'Halted' && state !== 'Suspended') {
        throw fail('VM_BAD_POWER_STATE', vm, 'halted, suspended', String(state).toLowerCase());
      }
      c.db.destroy(vtpm);
    },
    // xen-api ocaml/xapi/xapi_vm.ml get_secureboot_readiness: BIOS firmware cannot secure-boot (not_supported);
    // under UEFI it is disabled unless platform:secureboot is true, then first_boot until the NVRAM holds variables.
    'VM.get_secureboot_readiness': (c) => {
      const rec = c.db.record(vmArg(c));
      if ((rec.HVM_boot_params as Record<string, string>)?.firmware !== 'uefi') return 'not_supported';
      if ((rec.platform as Record<string, string>)?.secureboot !== 'true') return 'disabled';
      return (rec.NVRAM as Record<string, string> | undefined)?.['EFI-variables'] === undefined ? 'first_boot' : 'ready';
    },
    'VM.set_order': (c) => c.db.set(vmArg(c), 'order', c.args[1]),
    'VM.set_start_delay': (c) => c.db.set(vmArg(c), 'start_delay', c.args[1]),
    'VM.set_shutdown_delay': (c) => c.db.set(vmArg(c), 'shutdown_delay', c.args[1]),
  };
}

/**
 * Helpers.choose_suspend_sr: the VM's suspend_SR, else the pool's suspend_image_SR, else its host's
 * suspend_image_sr, each only if it has a PBD on the host the VM runs on; else VM_NO_SUSPEND_SR. pool.default_SR
 * plays no part.
 */
function chooseSuspendSr(c: Call, vm: string): string {
  const rec = c.db.record(vm);
  const host = rec.resident_on as string;
  const candidates = [rec.suspend_SR, c.db.record(c.core.poolRef()).suspend_image_SR, c.db.get(host)?.rec.suspend_image_sr];
  for (const sr of candidates as (string | undefined)[]) {
    const o = sr ? c.db.get(sr) : undefined;
    if (o?.cls.name === 'SR' && (o.rec.PBDs as string[]).some((p) => c.db.get(p)?.rec.host === host)) return o.ref;
  }
  throw fail('VM_NO_SUSPEND_SR', vm);
}

function destroySuspendImage(db: SimDatabase, vm: string): void {
  const image = db.record(vm).suspend_VDI as string;
  if (image && image !== NULL_REF && db.get(image)) {
    const r = db.record(image);
    db.set(vm, 'suspend_VDI', NULL_REF);
    adjustSr(db, r.SR as string, -(r.virtual_size as number), -(r.physical_utilisation as number));
    db.destroy(image);
  }
}

/** VM.provision: creates the disks the template's other_config["disks"] describes, then drops that key. */
function provision(c: Call, vm: string): void {
  const db = c.db;
  const rec = db.record(vm);
  checkVmOperation(db, vm, 'provision', ['Halted']);
  if (!rec.is_a_template) throw fail('ONLY_PROVISION_TEMPLATE');
  const other = rec.other_config as Record<string, string>;
  const disks = parseDisksXml(other.disks ?? '');
  const pool = db.record(c.core.poolRef());
  const wanted = new Map<string, number>();
  const plan = disks.map((d) => {
    let sr: string;
    if (d.sr === '') {
      sr = pool.default_SR as string;
      if (!sr || sr === NULL_REF || !db.get(sr)) throw fail('UUID_INVALID', 'sr', '');
    } else {
      const ref = db.refByUuid('SR', d.sr);
      if (!ref) throw fail('UUID_INVALID', 'sr', d.sr);
      sr = ref;
    }
    const size = vdiSizeFor(db.record(sr), d.size);
    wanted.set(sr, (wanted.get(sr) ?? 0) + initialUtilisation(db.record(sr), size));
    return { ...d, sr, size };
  });
  for (const [sr, bytes] of wanted) assertSpace(db, sr, bytes);
  db.set(vm, 'is_a_template', false);
  for (const d of plan) {
    const vdi = createVdi(db, { sr: d.sr, name_label: d.device, virtual_size: d.size, type: d.type, sm_config: { vmhint: rec.uuid as string } });
    createVbd(db, { vm, vdi, userdevice: d.device, bootable: d.bootable, mode: 'RW', type: 'Disk', unpluggable: d.type !== 'system', other_config: { owner: '' } });
  }
  db.mutate(vm, 'other_config', (o: Record<string, string>) => {
    delete o.disks;
    delete o.postinstall;
  });
  db.set(vm, 'allowed_operations', vmAllowedOperations(db, vm));
}
