/**
 * VBD and VIF rules XAPI clients rely on: which device numbers a VM offers, how a disk number becomes a Linux
 * device name, which device strings are valid, and which plug/unplug/insert/eject operations a device allows
 * (the advisory allowed_operations and the error a call gets, from one table as XAPI computes them).
 *
 * Sources (xen-api): ocaml/xapi-idl/xen/device_number.ml, ocaml/xapi/xapi_vm_helpers.ml (allowed_VBD_devices,
 * allowed_VIF_devices), ocaml/xapi/xapi_vbd_helpers.ml (valid_operations, valid_device), ocaml/xapi/xapi_vif_helpers.ml.
 */
import type { SimDatabase } from '../database.js';
import { fail } from '../errors.js';
import { hotplugRefusal } from './guest-rules.js';

/** Highest disk number VM.get_allowed_VBD_devices offers (XAPI: 0..254 for HVM and PV guests). */
export const MAX_VBD_DEVICE = 254;
/** Highest VIF device XAPI offers (0..15). */
export const MAX_VIF_DEVICE = 15;
/** Disk numbers Xen's extended encoding supports (2^20 - 1). */
const MAX_XEN_DISK = (1 << 20) - 1;

/** Bijective base 26, as Linux names disks: 0 → a, 25 → z, 26 → aa, 27 → ab, 701 → zz, 702 → aaa. */
function base26(n: number): string {
  let s = '';
  for (let x = n + 1; x > 0; x = Math.floor((x - 1) / 26)) s = String.fromCharCode(97 + ((x - 1) % 26)) + s;
  return s;
}

function fromBase26(s: string): number {
  let n = 0;
  for (const ch of s) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
}

/** The Linux device name XAPI writes to VBD.device for disk number `n`: xvda..xvdz, xvdaa, xvdab... */
export function linuxDeviceName(n: number): string {
  return `xvd${base26(n)}`;
}

/**
 * The disk number a userdevice string names, or undefined when XAPI could not parse it: a number, or a Linux name
 * (xvdX, sdX, hdX, fdX with an optional partition number, dN or dNpM).
 */
export function diskNumberOf(device: string): number | undefined {
  if (/^\d+$/.test(device)) {
    const n = Number(device);
    return n <= MAX_XEN_DISK ? n : undefined;
  }
  const m = /^(?:xvd|sd|hd|fd)([a-z]+)(\d+)?$/.exec(device) ?? null;
  if (m) return fromBase26(m[1]!);
  const d = /^d(\d+)(?:p\d+)?$/.exec(device);
  return d ? Number(d[1]) : undefined;
}

/**
 * XAPI's VBD valid_device: "autodetect", a parseable device name, or any integer at all (its range test is
 * `n >= 0 || n < 16`, always true, so even "-1" passes). Anything else fails INVALID_DEVICE [device].
 */
export function assertValidVbdDevice(device: string): void {
  if (device === 'autodetect' || diskNumberOf(device) !== undefined || /^-?\d+$/.test(device)) return;
  throw fail('INVALID_DEVICE', device);
}

/** XAPI's VIF valid_device: an unsigned decimal number ("%u"), else INVALID_DEVICE [device]. */
export function assertValidVifDevice(device: string): void {
  if (!/^\d+$/.test(device)) throw fail('INVALID_DEVICE', device);
}

/** Disk numbers a VM's VBDs already occupy, through their userdevice or their device name. */
export function usedDiskNumbers(db: SimDatabase, vm: string): Set<number> {
  const used = new Set<number>();
  for (const v of db.record(vm).VBDs as string[]) {
    const r = db.get(v)?.rec;
    if (!r) continue;
    for (const s of [r.userdevice, r.device]) {
      const n = typeof s === 'string' && s !== '' ? diskNumberOf(s) : undefined;
      if (n !== undefined) used.add(n);
    }
  }
  return used;
}

/** VM.get_allowed_VBD_devices: "0".."254" minus the numbers in use. */
export function allowedVbdDevices(db: SimDatabase, vm: string): string[] {
  const used = usedDiskNumbers(db, vm);
  const out: string[] = [];
  for (let i = 0; i <= MAX_VBD_DEVICE; i++) if (!used.has(i)) out.push(String(i));
  return out;
}

/** VM.get_allowed_VIF_devices: "0".."15" minus the devices of existing VIFs. */
export function allowedVifDevices(db: SimDatabase, vm: string): string[] {
  const used = new Set((db.record(vm).VIFs as string[]).map((v) => db.get(v)?.rec.device));
  const out: string[] = [];
  for (let i = 0; i <= MAX_VIF_DEVICE; i++) if (!used.has(String(i))) out.push(String(i));
  return out;
}

const VBD_OPS = ['attach', 'eject', 'insert', 'plug', 'unplug', 'unplug_force', 'pause', 'unpause'] as const;
const VIF_OPS = ['attach', 'plug', 'unplug'] as const;
const PLUG_OPS = new Set(['plug', 'unplug', 'unplug_force']);

/** The error XAPI gives for `op` on a VBD in its current state (first matching rule wins), or undefined. */
export function vbdOperationError(db: SimDatabase, vbd: string, op: string): string[] | undefined {
  const r = db.record(vbd);
  const vm = r.VM as string;
  const vmRec = db.record(vm);
  const power = String(vmRec.power_state);
  const cd = r.type === 'CD';
  if ((op === 'unplug' || op === 'unplug_force') && !r.unpluggable) return ['VBD_NOT_UNPLUGGABLE', vbd];
  if ((op === 'insert' || op === 'eject') && !cd) return ['VBD_NOT_REMOVABLE_MEDIA', vbd];
  if (op === 'eject' && r.empty) return ['VBD_IS_EMPTY', vbd];
  if (op === 'insert' && !r.empty) return ['VBD_NOT_EMPTY', vbd];
  if (power === 'Running') {
    if (op === 'plug' && r.currently_attached) return ['DEVICE_ALREADY_ATTACHED', vbd];
    if ((op === 'unplug' || op === 'unplug_force') && !r.currently_attached) return ['DEVICE_ALREADY_DETACHED', vbd];
  } else if (PLUG_OPS.has(op) || (power !== 'Paused' && (op === 'pause' || op === 'unpause'))) {
    return ['VM_BAD_POWER_STATE', vm, 'running', power.toLowerCase()];
  }
  if (PLUG_OPS.has(op) && power === 'Running' && vmRec.domain_type === 'hvm') {
    const refusal = hotplugRefusal(db, vm, 'vbd');
    if (refusal) return refusal;
    if (cd) return ['OPERATION_NOT_ALLOWED', 'HVM CDROMs cannot be hotplugged/unplugged, only inserted or ejected'];
  }
  if (cd && power === 'Suspended' && (op === 'insert' || op === 'eject')) return ['VM_BAD_POWER_STATE', vm, 'halted, running', 'suspended'];
  return undefined;
}

/** The error XAPI gives for `op` on a VIF in its current state, or undefined. */
export function vifOperationError(db: SimDatabase, vif: string, op: string): string[] | undefined {
  const r = db.record(vif);
  const vm = r.VM as string;
  const vmRec = db.record(vm);
  const power = String(vmRec.power_state);
  if (op === 'plug' && vmRec.is_control_domain) return ['OPERATION_NOT_ALLOWED', 'Control domain does not support hotplug'];
  if (op === 'plug' || op === 'unplug') {
    if (power !== 'Running') return ['VM_BAD_POWER_STATE', vm, 'running', power.toLowerCase()];
    if (op === 'plug' && r.currently_attached) return ['DEVICE_ALREADY_ATTACHED', vif];
    if (op === 'unplug' && !r.currently_attached) return ['DEVICE_ALREADY_DETACHED', vif];
    const refusal = vmRec.domain_type === 'hvm' ? hotplugRefusal(db, vm, 'vif') : undefined;
    if (refusal) return refusal;
  }
  return undefined;
}

/** Throws the error `vbdOperationError` finds. */
export function assertVbdOperation(db: SimDatabase, vbd: string, op: string): void {
  const e = vbdOperationError(db, vbd, op);
  if (e) throw fail(e[0]!, ...e.slice(1));
}

/** Throws the error `vifOperationError` finds. */
export function assertVifOperation(db: SimDatabase, vif: string, op: string): void {
  const e = vifOperationError(db, vif, op);
  if (e) throw fail(e[0]!, ...e.slice(1));
}

/** The allowed_operations of one VBD in its current state. */
export function vbdAllowedOperations(db: SimDatabase, vbd: string): string[] {
  return VBD_OPS.filter((op) => !vbdOperationError(db, vbd, op));
}

/** The allowed_operations of one VIF in its current state. */
export function vifAllowedOperations(db: SimDatabase, vif: string): string[] {
  return VIF_OPS.filter((op) => !vifOperationError(db, vif, op));
}

/** Recomputes allowed_operations of every VBD and VIF of `vm` (after a power, plug or guest metrics change). */
export function refreshDeviceOperations(db: SimDatabase, vm: string): void {
  const rec = db.get(vm)?.rec;
  if (!rec) return;
  for (const v of rec.VBDs as string[]) {
    if (!db.get(v)) continue;
    const ops = vbdAllowedOperations(db, v);
    if (!sameSet(db.record(v).allowed_operations as string[], ops)) db.set(v, 'allowed_operations', ops);
  }
  for (const v of rec.VIFs as string[]) {
    if (!db.get(v)) continue;
    const ops = vifAllowedOperations(db, v);
    if (!sameSet(db.record(v).allowed_operations as string[], ops)) db.set(v, 'allowed_operations', ops);
  }
}

function sameSet(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return !!a && a.length === b.length && a.every((x) => b.includes(x));
}
