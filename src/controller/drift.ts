import { MANAGED_KEY, REPO_KEY, SPEC_KEY, repoMatches, type ObservedClass, type ObservedState, type Ref, type XapiRecord } from '../model/observed.js';
import type { ObservedChange } from '../observe/diff.js';
import { valuesEqual } from '../observe/equal.js';
import type { ActionResult } from '../apply/executor.js';
import type { Plan } from '../model/plan.js';
import { poolKeptMarks } from '../plan/ownership-marks.js';
import { LEASE_KEY } from './lease.js';
import type { DriftReport } from './types.js';

/**
 * Fields XAPI rewrites on its own while an object is merely used (operations in flight): a change
 * in them alone says nothing about the object's configuration.
 */
const VOLATILE_FIELDS: ReadonlySet<string> = new Set(['current_operations', 'allowed_operations']);
/**
 * other_config keys that are not the object's own configuration: the lease (renewed every few
 * seconds) and, in the pool's map, the marks of appliances (`xops.managed/VM_appliance/<uuid>`…),
 * which concern the appliance they name.
 */
function isBookkeepingKey(key: string): boolean {
  // `xops.replica.*`: the heartbeats of a fleet's replicas (src/fleet/replicas.ts).
  return key === LEASE_KEY || key.startsWith('xops.replica.') || isApplianceMarkKey(key);
}

function isApplianceMarkKey(key: string): boolean {
  return [MANAGED_KEY, REPO_KEY, SPEC_KEY].some((k) => key.startsWith(`${k}/VM_appliance/`) || key.startsWith(`${k}/VMSS/`) || key.startsWith(`${k}/VM_group/`));
}

/** Whether anything but volatile fields differs between two versions of a record. */
export function configurationChanged(before: XapiRecord, after: XapiRecord): boolean {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    if (VOLATILE_FIELDS.has(key)) continue;
    if (key === 'other_config') {
      if (!valuesEqual(withoutVolatileKeys(before[key]), withoutVolatileKeys(after[key]))) return true;
      continue;
    }
    if (!valuesEqual(before[key], after[key])) return true;
  }
  return false;
}

function withoutVolatileKeys(map: unknown): unknown {
  if (typeof map !== 'object' || map === null) return map;
  return Object.fromEntries(Object.entries(map).filter(([k]) => !isBookkeepingKey(k)));
}

/**
 * The `Kind/name` addresses of the managed resources one observed change concerns: the object's own
 * ownership mark, or the mark of the object it belongs to (a VM's VBD, VIF and disks; a network's
 * PIFs, VLANs and bonds; an SR's PBDs; an appliance's mark kept in the pool). Objects marked by
 * another repository, snapshots and metrics concern nothing. A deleted object is looked up in
 * `before`. Pure: the XAPI-event trigger calls it for every change the observer reports.
 */
export function managedAddresses(change: ObservedChange, before: ObservedState | undefined, after: ObservedState, repo?: string): string[] {
  const old = before?.records[change.cls].get(change.ref);
  const now = after.records[change.cls].get(change.ref);
  if (change.cls === 'pool' && old && now) {
    const appliances = changedApplianceMarks(old, now);
    const own = configurationChanged(old, now) ? markedAddress(now, repo) : undefined;
    return own ? [own, ...appliances] : appliances;
  }
  if (change.operation === 'mod' && old && now && !configurationChanged(old, now)) return [];
  const record = now ?? old;
  if (!record) return [];
  const states = before ? [after, before] : [after];
  const lookup = (cls: ObservedClass, ref: unknown): XapiRecord | undefined => {
    if (typeof ref !== 'string') return undefined;
    for (const s of states) {
      const r = s.records[cls].get(ref as Ref);
      if (r) return r;
    }
    return undefined;
  };
  const out = new Set<string>();
  const markOf = (rec: XapiRecord | undefined) => {
    const address = markedAddress(rec, repo);
    if (address) out.add(address);
  };
  const networkOfPif = (pifRef: unknown) => markOf(lookup('network', lookup('PIF', pifRef)?.['network']));

  switch (change.cls) {
    case 'pool':
    case 'host':
    case 'network':
    case 'SR':
    case 'VM':
      markOf(record);
      break;
    case 'VBD':
    case 'VIF':
      markOf(lookup('VM', record['VM']));
      break;
    case 'VDI':
      markOf(record);
      for (const vbd of (record['VBDs'] as Ref[] | undefined) ?? []) markOf(lookup('VM', lookup('VBD', vbd)?.['VM']));
      break;
    case 'PIF':
      markOf(lookup('network', record['network']));
      break;
    case 'VLAN':
      networkOfPif(record['untagged_PIF']);
      networkOfPif(record['tagged_PIF']);
      break;
    case 'Bond':
      networkOfPif(record['master']);
      break;
    case 'PBD':
      markOf(lookup('SR', record['SR']));
      break;
    case 'VM_appliance':
    case 'VMSS':
    case 'VM_group':
      for (const s of states) {
        const mark = poolKeptMarks(s, change.cls).get(record.uuid);
        if (mark?.address && repoMatches(mark.repo, repo)) out.add(mark.address);
      }
      break;
    default:
      // VM_metrics, VM_guest_metrics, host_metrics, PIF_metrics: runtime figures, never configuration xops manages.
      break;
  }
  return [...out];
}

/** The address in a record's own ownership mark, unless it is a snapshot or marked by another repository. */
function markedAddress(rec: XapiRecord | undefined, repo: string | undefined): string | undefined {
  if (!rec || rec['is_a_snapshot'] === true) return undefined;
  const oc = rec['other_config'] as Record<string, string> | undefined;
  const address = oc?.[MANAGED_KEY];
  if (!address || !repoMatches(oc?.[REPO_KEY], repo)) return undefined;
  return address;
}

/** Appliances whose marks in the pool's other_config were added, changed or removed. */
function changedApplianceMarks(old: XapiRecord, now: XapiRecord): string[] {
  const a = (old['other_config'] ?? {}) as Record<string, string>;
  const b = (now['other_config'] ?? {}) as Record<string, string>;
  const out = new Set<string>();
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!isApplianceMarkKey(key) || a[key] === b[key]) continue;
    const uuid = key.slice(key.lastIndexOf('/') + 1);
    const managed = `${MANAGED_KEY}/${key.slice(key.indexOf('/') + 1, key.lastIndexOf('/'))}/${uuid}`;
    const address = b[managed] ?? a[managed];
    if (address) out.add(address);
  }
  return [...out];
}

/**
 * What this reconcile found changed behind xops' back: the plan's actions marked `drift` (the
 * manifest did not change since xops last applied it, the pool did), one report per resource with
 * the manifest paths involved, healed when every such action of the resource succeeded.
 */
export function driftReports(plan: Plan, results: readonly ActionResult[]): DriftReport[] {
  const succeeded = new Set(results.filter((r) => r.state === 'succeeded').map((r) => r.action.id));
  const byAddress = new Map<string, DriftReport>();
  for (const action of plan.actions) {
    if (action.drift !== true) continue;
    let report = byAddress.get(action.address);
    if (!report) {
      report = { address: action.address, paths: [], healed: true };
      byAddress.set(action.address, report);
    }
    const paths = action.changes.length > 0 ? action.changes.map((c) => c.path) : [`(${action.operation})`];
    for (const p of paths) if (!report.paths.includes(p)) report.paths.push(p);
    if (!succeeded.has(action.id)) report.healed = false;
  }
  return [...byAddress.values()];
}
