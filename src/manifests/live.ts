import type { ObservedState } from '../model/observed.js';
import { isSealed } from '../model/sealed.js';

/** Kinds of live pool object a manifest may reference by name_label or uuid. */
export type LiveKind = 'SR' | 'Network' | 'Host' | 'VM' | 'Template';

/** What exists in the pool right now, for checking references that name no manifest. */
export interface LiveInventory {
  has(kind: LiveKind, nameOrUuid: string): boolean;
}

/** The inventory last built from sealed maps, by the VM map it was built from. */
const sealedInventories = new WeakMap<object, { SR: object; network: object; host: object; inventory: LiveInventory }>();

/**
 * Builds a LiveInventory from an observed snapshot (VMs exclude templates, snapshots and dom0).
 * From the controller's sealed state (see model/sealed.ts) it is built once per change of the
 * classes it lists, not once per plan.
 */
export function liveInventoryFrom(observed: ObservedState): LiveInventory {
  const { SR, network, host, VM } = observed.records;
  if (![SR, network, host, VM].every(isSealed)) return buildInventory(observed);
  const hit = sealedInventories.get(VM);
  if (hit && hit.SR === SR && hit.network === network && hit.host === host) return hit.inventory;
  // Only VMs changed since the last one (the usual event): when none was added, removed, renamed
  // or turned into a template, the inventory stands, found without building its sets again.
  const last = lastSealed;
  if (last && last.SR === SR && last.network === network && last.host === host && sameVmInventory(last.VM, VM)) {
    sealedInventories.set(VM, { SR, network, host, inventory: last.inventory });
    lastSealed = { ...last, VM };
    return last.inventory;
  }
  const sets = inventorySets(observed);
  // An SR, network or host record replaced, or another pool's state (a fleet) between two of this
  // one's, mostly leaves every name and uuid as it was: the same inventory then answers, so what
  // was checked against it holds by identity.
  let inventory = recentInventories.find((r) => sameSets(r.sets, sets))?.inventory;
  if (!inventory) {
    inventory = inventoryOf(sets);
    recentInventories.unshift({ sets, inventory });
    if (recentInventories.length > RECENT_INVENTORIES) recentInventories.pop();
  }
  sealedInventories.set(VM, { SR, network, host, inventory });
  lastSealed = { SR, network, host, VM, inventory };
  return inventory;
}

let lastSealed: { SR: object; network: object; host: object; VM: ObservedState['records']['VM']; inventory: LiveInventory } | undefined;

/** Whether two VM maps list the same VMs and templates by name and uuid (what the inventory holds of them). */
function sameVmInventory(before: ObservedState['records']['VM'], after: ObservedState['records']['VM']): boolean {
  if (before.size !== after.size) return false;
  for (const [ref, rec] of after) {
    const old = before.get(ref);
    if (old === rec) continue;
    if (!old || old.uuid !== rec.uuid || old.name_label !== rec.name_label || old.is_a_template !== rec.is_a_template || old.is_a_snapshot !== rec.is_a_snapshot || old.is_control_domain !== rec.is_control_domain) return false;
  }
  return true;
}

/** Inventories built lately from sealed states, with their sets: one per pool a fleet replica watches, and a few more. */
const RECENT_INVENTORIES = 8;
const recentInventories: { sets: Record<LiveKind, Set<string>>; inventory: LiveInventory }[] = [];

function sameSets(a: Record<LiveKind, Set<string>>, b: Record<LiveKind, Set<string>>): boolean {
  for (const kind of Object.keys(a) as LiveKind[]) {
    const x = a[kind];
    const y = b[kind];
    if (x.size !== y.size) return false;
    for (const v of x) if (!y.has(v)) return false;
  }
  return true;
}

function buildInventory(observed: ObservedState): LiveInventory {
  return inventoryOf(inventorySets(observed));
}

function inventoryOf(sets: Record<LiveKind, Set<string>>): LiveInventory {
  return { has: (kind, nameOrUuid) => sets[kind].has(nameOrUuid) };
}

function inventorySets(observed: ObservedState): Record<LiveKind, Set<string>> {
  const sets: Record<LiveKind, Set<string>> = {
    SR: new Set(),
    Network: new Set(),
    Host: new Set(),
    VM: new Set(),
    Template: new Set(),
  };
  const add = (kind: LiveKind, rec: { uuid: string; name_label: string }) => {
    sets[kind].add(rec.uuid);
    sets[kind].add(rec.name_label);
  };
  for (const rec of observed.records.SR.values()) add('SR', rec);
  for (const rec of observed.records.network.values()) add('Network', rec);
  for (const rec of observed.records.host.values()) add('Host', rec);
  for (const rec of observed.records.VM.values()) {
    if (rec.is_a_snapshot || rec.is_control_domain) continue;
    add(rec.is_a_template ? 'Template' : 'VM', rec);
  }
  return sets;
}
