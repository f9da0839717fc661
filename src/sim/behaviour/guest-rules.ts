/**
 * What XAPI lets a guest do depending on its guest metrics: hot-plug (xen-api ocaml/xapi/xapi_vbd_helpers.ml and
 * xapi_vif_helpers.ml valid_operations) and the operations that need the guest's co-operation
 * (ocaml/xapi/xapi_vm_lifecycle.ml check_op_for_feature; ocaml/xapi/xapi_pv_driver_version.ml has_pv_drivers).
 * Pure reads of the database.
 */
import type { SimDatabase } from '../database.js';

/** XAPI's has_pv_drivers: the guest metrics carry a PV drivers version with numeric major and minor. */
export function pvDriversPresent(gm: Record<string, unknown> | undefined): boolean {
  const v = gm?.PV_drivers_version as Record<string, string> | undefined;
  return !!v && /^\d+$/.test(v.major ?? '') && /^\d+$/.test(v.minor ?? '');
}

/** The guest metrics record of a VM record, if it has one. */
export function guestMetricsOf(db: SimDatabase, vmRec: Record<string, unknown>): Record<string, unknown> | undefined {
  const o = db.get(vmRec.guest_metrics as string);
  return o && o.cls.name === 'VM_guest_metrics' ? o.rec : undefined;
}

/**
 * Why a running HVM guest refuses to hot-plug or unplug a disk (`vbd`) or NIC (`vif`), as XAPI's device operation
 * checks put it: an explicit "no" from the agent, else no PV drivers; undefined when it may.
 */
export function hotplugRefusal(db: SimDatabase, vm: string, kind: 'vbd' | 'vif'): string[] | undefined {
  const rec = db.record(vm);
  if (rec.power_state !== 'Running' || rec.domain_type !== 'hvm') return undefined;
  const gm = guestMetricsOf(db, rec);
  const claim = gm?.[kind === 'vbd' ? 'can_use_hotplug_vbd' : 'can_use_hotplug_vif'];
  if (claim === 'yes') return undefined;
  if (claim === 'no') return ['OPERATION_NOT_ALLOWED', `VM states it does not support ${kind.toUpperCase()} hotplug.`];
  if (gm?.PV_drivers_detected === true) return undefined;
  return pvDriversPresent(gm) ? undefined : ['VM_MISSING_PV_DRIVERS', vm];
}

const hasFeature = (gm: Record<string, unknown> | undefined, f: string): boolean => (gm?.other as Record<string, string> | undefined)?.[f] === '1';

/**
 * XAPI's check_op_for_feature: the error a live HVM guest without PV drivers gives for an operation that needs its
 * co-operation. `strict` is true when computing allowed_operations (advisory) and false when the call is made:
 * only a live vCPU change is refused outright then; the others are attempted.
 */
export function featureRefusal(db: SimDatabase, vm: string, op: string, strict: boolean): string[] | undefined {
  const rec = db.record(vm);
  const live = rec.power_state === 'Running' || rec.power_state === 'Paused';
  const gm = guestMetricsOf(db, rec);
  const implicit = !live || rec.domain_type === 'pv' || rec.domain_type === 'pvh' || pvDriversPresent(gm);
  const other = (gm?.other as Record<string, string> | undefined) ?? {};
  if (live && (op === 'suspend' || op === 'checkpoint' || op === 'pool_migrate' || op === 'migrate_send')) {
    const reason = other['data-cant-suspend-reason'];
    if (reason !== undefined) return ['VM_NON_SUSPENDABLE', vm, reason];
    return !implicit && strict && !hasFeature(gm, 'feature-suspend') ? ['VM_LACKS_FEATURE', vm] : undefined;
  }
  if (implicit) return undefined;
  if (op === 'clean_shutdown' && strict && !hasFeature(gm, 'feature-shutdown') && !hasFeature(gm, 'feature-poweroff')) return ['VM_LACKS_FEATURE', vm];
  if (op === 'clean_reboot' && strict && !hasFeature(gm, 'feature-shutdown') && !hasFeature(gm, 'feature-reboot')) return ['VM_LACKS_FEATURE', vm];
  if (op === 'changing_VCPUs_live' && !hasFeature(gm, 'feature-vcpu-hotplug')) return ['VM_LACKS_FEATURE', vm];
  return undefined;
}
