import type { ObservedIndex } from '../../model/observed-index.js';
import type { VMRecord, XapiRecord } from '../../model/observed.js';

/**
 * What a running guest lets XAPI change live, from the VM record and its VM_guest_metrics.
 *
 * XAPI refuses VBD.plug/unplug and VIF.plug/unplug on a running HVM guest without PV drivers
 * (VM_MISSING_PV_DRIVERS), and VM.set_VCPUs_number_live / set_memory_dynamic_range on one that lacks
 * the guest feature (VM_LACKS_FEATURE): xapi-project/xen-api ocaml/xapi/xapi_vm_lifecycle.ml
 * (check_op_for_feature). A PV or PVH guest's kernel is paravirtualised, so it always can; a VM
 * without `domain_type` is HVM when `HVM_boot_policy` is not empty (ocaml/xapi/xapi_vm_helpers.ml,
 * derive_domain_type).
 */
export interface GuestAbilities {
  /** True for an HVM guest (the only kind whose hot-plug depends on drivers). */
  hvm: boolean;
  /** PV drivers are running in the guest (`PV_drivers_detected`); no guest metrics (no agent) means none. */
  pvDrivers: boolean;
  /** Disks can be plugged and unplugged live. */
  hotplugDisk: boolean;
  /** VIFs can be plugged and unplugged live. */
  hotplugVif: boolean;
  /** vCPUs and the memory balloon can be changed live. */
  liveSizing: boolean;
}

/** Whether the record describes an HVM guest: its running domain type, else its configured one. */
export function isHvm(vm: VMRecord): boolean {
  const current = vm['current_domain_type'];
  if (typeof current === 'string' && current !== '' && current !== 'unspecified') return current === 'hvm';
  const configured = vm['domain_type'];
  if (typeof configured === 'string' && configured !== '' && configured !== 'unspecified') return configured === 'hvm';
  const policy = vm['HVM_boot_policy'];
  return typeof policy === 'string' && policy !== '';
}

/** A tristate (`yes`/`no`/`unspecified`): `unspecified` follows whether drivers run. */
function tristate(value: unknown, fallback: boolean): boolean {
  if (value === 'yes') return true;
  if (value === 'no') return false;
  return fallback;
}

/** What the guest lets XAPI change live (see GuestAbilities). Pure. */
export function guestAbilities(vm: VMRecord, metrics: XapiRecord | undefined): GuestAbilities {
  if (!isHvm(vm)) return { hvm: false, pvDrivers: true, hotplugDisk: true, hotplugVif: true, liveSizing: true };
  const pvDrivers = metrics?.['PV_drivers_detected'] === true;
  return {
    hvm: true,
    pvDrivers,
    hotplugDisk: pvDrivers && tristate(metrics?.['can_use_hotplug_vbd'], true),
    hotplugVif: pvDrivers && tristate(metrics?.['can_use_hotplug_vif'], true),
    liveSizing: pvDrivers,
  };
}

/** The guest's abilities as the snapshot has them (a dangling guest_metrics ref reads as no agent). */
export function observedGuestAbilities(index: ObservedIndex, vm: VMRecord): GuestAbilities {
  return guestAbilities(vm, index.get('VM_guest_metrics', vm.guest_metrics));
}

/** The reason line for a change a driverless guest cannot take live (apply halts, changes, starts). */
export function driverlessReason(what: string, abilities: GuestAbilities): string {
  const why = abilities.pvDrivers ? 'the guest cannot hot-plug it' : 'the guest has no PV drivers';
  return `${what}: ${why} (XAPI would refuse with ${abilities.pvDrivers ? 'VM_LACKS_FEATURE' : 'VM_MISSING_PV_DRIVERS'}), so apply halts the VM, changes it and starts it again`;
}
