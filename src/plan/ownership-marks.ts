import type { ObservedState, XapiRecord } from '../model/observed.js';
import { MANAGED_KEY, REPO_KEY, SPEC_KEY } from '../model/observed.js';

/** xops' marks on one object: who owns it, from which repository, and the spec digest last applied. */
export interface ObjectMark {
  address?: string;
  repo?: string;
  spec?: string;
}

/** The marks in an object's own other_config. */
export function markOf(record: XapiRecord): ObjectMark {
  const oc = record['other_config'] as Record<string, string> | undefined;
  if (!oc) return {};
  return { address: oc[MANAGED_KEY], repo: oc[REPO_KEY], spec: oc[SPEC_KEY] };
}

/**
 * VM_appliance has no other_config, so xops keeps an appliance's marks in the pool's other_config
 * under keys naming the appliance's uuid. Apply writes these keys when it creates (or adopts) an
 * appliance and removes them when it deletes one.
 */
export function applianceMarkKeys(uuid: string): { managed: string; repo: string; spec: string } {
  return {
    managed: `${MANAGED_KEY}/VM_appliance/${uuid}`,
    repo: `${REPO_KEY}/VM_appliance/${uuid}`,
    spec: `${SPEC_KEY}/VM_appliance/${uuid}`,
  };
}

/** Classes without other_config whose marks xops keeps in the pool's (as for VM_appliance). */
export type PoolMarkedClass = 'VM_appliance' | 'VMSS' | 'VM_group';

/** The pool other_config keys holding the marks of one object of a class without other_config. */
export function poolMarkKeys(cls: PoolMarkedClass, uuid: string): { managed: string; repo: string; spec: string } {
  return { managed: `${MANAGED_KEY}/${cls}/${uuid}`, repo: `${REPO_KEY}/${cls}/${uuid}`, spec: `${SPEC_KEY}/${cls}/${uuid}` };
}

/** Object uuid → marks for a class whose marks are kept in the pool's other_config. */
export function poolKeptMarks(observed: ObservedState, cls: PoolMarkedClass): Map<string, ObjectMark> {
  const out = new Map<string, ObjectMark>();
  const prefix = `${MANAGED_KEY}/${cls}/`;
  for (const pool of observed.records.pool.values()) {
    for (const [key, address] of Object.entries(pool.other_config ?? {})) {
      if (!key.startsWith(prefix)) continue;
      const uuid = key.slice(prefix.length);
      const keys = poolMarkKeys(cls, uuid);
      out.set(uuid, { address, repo: pool.other_config[keys.repo], spec: pool.other_config[keys.spec] });
    }
  }
  return out;
}
