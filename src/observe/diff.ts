import { OBSERVED_CLASSES, type ObservedClass, type ObservedState, type Ref } from '../model/observed.js';
import { valuesEqual } from './equal.js';

/** One object that appeared, changed or disappeared between two observations. */
export interface ObservedChange {
  cls: ObservedClass;
  ref: Ref;
  operation: 'add' | 'mod' | 'del';
}

/** Every object that differs between two snapshots (used after a full re-fetch to tell listeners what moved). */
export function diffStates(before: ObservedState, after: ObservedState): ObservedChange[] {
  const out: ObservedChange[] = [];
  for (const cls of OBSERVED_CLASSES) {
    const a = before.records[cls] as Map<Ref, unknown>;
    const b = after.records[cls] as Map<Ref, unknown>;
    for (const [ref, rec] of b) {
      const old = a.get(ref);
      if (old === undefined) out.push({ cls, ref, operation: 'add' });
      else if (!valuesEqual(old, rec)) out.push({ cls, ref, operation: 'mod' });
    }
    for (const ref of a.keys()) if (!b.has(ref)) out.push({ cls, ref, operation: 'del' });
  }
  return out;
}

/** The addresses of a snapshot's hosts, master first: where to look when the master stops answering. */
export function hostAddresses(state: ObservedState): string[] {
  const pool = state.records.pool.values().next().value;
  const master = pool ? state.records.host.get(pool.master) : undefined;
  const all = [...state.records.host.values()].map((h) => h.address).filter((a): a is string => typeof a === 'string' && a !== '');
  return master?.address ? [master.address, ...all.filter((a) => a !== master.address)] : all;
}
