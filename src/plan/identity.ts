import type { DesiredResource } from '../model/desired.js';
import type { ObservedClass, ObservedState, XapiRecord } from '../model/observed.js';
import type { ObservedIdentity } from '../model/plan.js';
import { MANAGED_KEY, OBSERVED_CLASSES, poolWithoutLease } from '../model/observed.js';
import { sealedMemo } from '../model/sealed.js';
import { indexObserved } from '../model/observed-index.js';
import { digestOf } from './values.js';
import { fastFieldsDigest, fastTextDigest } from './fast-digest.js';

/**
 * The fields of each class the planner reads. A saved plan is stale when one of these changed on an
 * object it read; fields outside this list (metrics, guest keys, allowed_operations...) never make a
 * plan stale, just as they never show as drift.
 */
const READ_FIELDS: { [C in ObservedClass]: string[] } = {
  pool: ['name_label', 'name_description', 'default_SR', 'tags', 'other_config', 'ha_enabled', 'ha_host_failures_to_tolerate'],
  host: ['name_label', 'name_description', 'tags', 'other_config'],
  // Free memory moves with every VM start: a capacity check re-runs at apply, it never stales a plan.
  host_metrics: [],
  network: ['name_label', 'name_description', 'MTU', 'PIFs', 'tags', 'other_config'],
  PIF: ['device', 'host', 'network', 'VLAN', 'bond_master_of', 'bond_slave_of'],
  VLAN: ['tagged_PIF', 'untagged_PIF', 'tag'],
  Bond: ['master', 'slaves', 'mode'],
  SR: ['name_label', 'name_description', 'type', 'content_type', 'shared', 'PBDs', 'tags', 'other_config'],
  PBD: ['host', 'SR', 'device_config'],
  VDI: ['name_label', 'SR', 'VBDs', 'virtual_size', 'other_config'],
  VBD: ['VM', 'VDI', 'userdevice', 'type'],
  VM: [
    'name_label', 'name_description', 'power_state', 'affinity', 'resident_on', 'memory_static_min',
    'memory_static_max', 'memory_dynamic_min', 'memory_dynamic_max', 'VCPUs_max', 'VCPUs_at_startup',
    'VBDs', 'VIFs', 'appliance', 'ha_restart_priority', 'order', 'start_delay', 'shutdown_delay', 'tags',
    'other_config', 'platform', 'HVM_boot_params', 'VCPUs_params', 'blocked_operations', 'xenstore_data', 'suspend_SR', 'VTPMs',
    'snapshot_schedule', 'groups',
  ],
  VIF: ['VM', 'network', 'device', 'MAC', 'other_config'],
  VM_appliance: ['name_label', 'name_description', 'VMs'],
  VMSS: ['name_label', 'name_description', 'enabled', 'type', 'retained_snapshots', 'frequency', 'schedule', 'VMs'],
  VM_group: ['name_label', 'name_description', 'placement', 'VMs'],
  VM_metrics: [],
  // Whether the guest can hot-plug decides between a live change and a reboot.
  VM_guest_metrics: ['PV_drivers_detected', 'can_use_hotplug_vbd', 'can_use_hotplug_vif'],
  PIF_metrics: [],
};

/**
 * Digest of the fields of a record the planner compares (see READ_FIELDS). A plan digests every
 * object it read (~60k at 10k VMs), so this is the fast non-cryptographic digest (see
 * fast-digest.ts for the trade-off); a plan made by an older xops (sha256 digests) reads as stale.
 */
export function recordDigest(cls: ObservedClass, record: XapiRecord): string {
  return recordIdentity(cls, record)[1];
}

/**
 * `[objectKey, recordDigest]` of a record the plan read. A sealed record (the controller's
 * event-fed state, see model/sealed.ts) never changes, so both are computed once for it, however
 * many plans read it.
 */
export function recordIdentity(cls: ObservedClass, record: XapiRecord): readonly [string, string] {
  return sealedMemo(identities[cls], record, (r) => [objectKey(cls, r.uuid), fastFieldsDigest(cls === 'pool' ? poolWithoutLease(r) : r, READ_FIELDS[cls])] as const);
}

/** Per class, as a record's digest is over its class's fields. */
const identities = Object.fromEntries(OBSERVED_CLASSES.map((cls) => [cls, new WeakMap<XapiRecord, readonly [string, string]>()])) as Record<ObservedClass, WeakMap<XapiRecord, readonly [string, string]>>;

/** Identity key of one object the plan read: `<class>/<uuid>`. */
export function objectKey(cls: ObservedClass, uuid: string): string {
  return `${cls}/${uuid}`;
}

/**
 * Identity key of a lookup whose answer the plan relied on, e.g. "no VM is named web01":
 * `<class>?<field>=<value>`. Its digest is over the sorted uuids that matched, so an object that
 * appears (or disappears) under that name makes a saved plan stale.
 */
export function lookupKey(cls: ObservedClass, field: 'name_label' | typeof MANAGED_KEY, value: string): string {
  return `${cls}?${field}=${value}`;
}

export function lookupDigest(uuids: readonly string[]): string {
  return lookupTextDigest(lookupText(uuids));
}

/** The digest of a lookup's answer from its text (see lookupText). */
export function lookupTextDigest(text: string): string {
  return fastTextDigest(text);
}

/** What lookupDigest digests: the sorted uuids as JSON (a list of strings serialises as plain JSON). */
export function lookupText(uuids: readonly string[]): string {
  return JSON.stringify(uuids.length > 1 ? [...uuids].sort() : uuids);
}

/**
 * The value apply writes to `other_config["xops.spec"]`: a digest of what the manifest declares
 * (kind, name, labels, annotations, spec), not where it was written. Equal digest on the object
 * means the manifest has not changed since it was applied, so any difference is drift.
 */
export function specDigest(resource: DesiredResource): string {
  const { name, labels, annotations } = resource.meta;
  return digestOf({ kind: resource.kind, name, labels, annotations, spec: resource.spec });
}

/**
 * What changed in the pool since a plan was made against `identity`: one line per object or lookup,
 * e.g. "VM 'web01' (uuid) changed". Empty when the plan still holds. Pure; apply refuses a saved
 * plan when this is not empty.
 */
export function staleObjects(identity: ObservedIdentity, observed: ObservedState): string[] {
  if (identity.token === observed.token && identity.token !== '') return [];
  const out: string[] = [];
  const index = indexObserved(observed);
  // The uuids a lookup would answer now (lookupKey only ever builds these two fields).
  const matching = (cls: ObservedClass, field: string, value: string): string[] => {
    if (field === 'name_label') return index.byName(cls, value).map(([, rec]) => rec.uuid);
    if (field !== MANAGED_KEY) return [];
    return index.managedIn(cls, value).map((ref) => index.get(cls, ref)!.uuid);
  };
  for (const [key, digest] of Object.entries(identity.objects)) {
    const q = key.indexOf('?');
    if (q >= 0) {
      const cls = key.slice(0, q) as ObservedClass;
      const eq = key.indexOf('=', q);
      const field = key.slice(q + 1, eq);
      const value = key.slice(eq + 1);
      const uuids = matching(cls, field, value);
      if (lookupDigest(uuids) !== digest) out.push(`the ${cls} objects with ${field} '${value}' changed (now ${uuids.length})`);
      continue;
    }
    const slash = key.indexOf('/');
    const cls = key.slice(0, slash) as ObservedClass;
    const uuid = key.slice(slash + 1);
    const rec = index.byUuid(cls, uuid)?.[1];
    const label = rec && typeof rec['name_label'] === 'string' ? ` '${rec['name_label']}'` : '';
    if (!rec) out.push(`${cls} ${uuid} is gone`);
    else if (recordDigest(cls, rec) !== digest) out.push(`${cls}${label} (${uuid}) changed`);
  }
  return out;
}
