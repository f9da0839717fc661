/**
 * Which of a traced planning's questions (trace.ts) a change of the pool's state can have answered
 * differently, without asking them again. Between two sealed states of the controller's event-fed
 * cache only a few objects differ; every question about one object, or about the objects with one
 * uuid, name or mark, has a key, and a change yields the keys of both versions of each object it
 * touched. A question whose key is not among them has the answer it had.
 *
 * The two functions below must agree: a key missing from stateChanges would let a stale answer stand.
 * `test/plan/state-changes.test.ts` pins each kind of question against the index's own answers.
 */
import type { Query } from './context.js';
import { MANAGED_KEY, type XapiRecord } from '../model/observed.js';
import type { PoolEquivalence } from './trace.js';
import { replacedSince } from '../model/map-lineage.js';

/** A state as PlanMemo remembers it: its classes and their (sealed) maps, in the same order. */
export interface StateMaps {
  classes: readonly string[];
  maps: readonly object[];
}

/**
 * The key of what a question's answer depends on; undefined for questions not about the pool's
 * objects (another manifest's ownership, a value derived from whole classes), which are asked again.
 */
export function dependencyKey(q: Query): string | undefined {
  switch (q[0]) {
    case 'get':
      return `g\0${q[1]}\0${q[2]}`;
    case 'uuid':
      return `u\0${q[1]}\0${q[2]}`;
    case 'name':
      return `n\0${q[1]}\0${q[2]}`;
    case 'mark':
      return `m\0${q[1]}\0${q[2]}`;
    case 'first':
      return `f\0${q[1]}`;
    default:
      return undefined;
  }
}

/**
 * The keys whose answers may differ between `from` and `to`: for each object added, removed or
 * replaced, its ref, and the uuid, name and mark of its old and new record; and its class's first
 * object. A pool record replaced by an equivalent one (the lease renewed) changes nothing. Undefined
 * when the states do not hold the same classes.
 */
export function stateChanges(from: StateMaps, to: StateMaps, pools: PoolEquivalence): ReadonlySet<string> | undefined {
  if (from.classes.length !== to.classes.length) return undefined;
  const keys = new Set<string>();
  for (let i = 0; i < to.classes.length; i++) {
    const cls = to.classes[i]!;
    const j = from.classes[i] === cls ? i : from.classes.indexOf(cls);
    if (j < 0) return undefined;
    const before = from.maps[j] as Map<string, XapiRecord>;
    const after = to.maps[i] as Map<string, XapiRecord>;
    if (before === after) continue;
    let any = false;
    const touched = (ref: string, rec: XapiRecord | undefined) => {
      any = true;
      keys.add(`g\0${cls}\0${ref}`);
      if (!rec) return;
      if (typeof rec.uuid === 'string') keys.add(`u\0${cls}\0${rec.uuid}`);
      const name = rec['name_label'];
      if (typeof name === 'string') keys.add(`n\0${cls}\0${name}`);
      const mark = (rec['other_config'] as Record<string, string> | undefined)?.[MANAGED_KEY];
      if (typeof mark === 'string' && mark) keys.add(`m\0${cls}\0${mark}`);
    };
    // A map the event stream derived by replacing records names them: no other ref differs, and
    // the order is the same.
    const replaced = replacedSince(after, before);
    if (replaced) {
      for (const ref of replaced) {
        const old = before.get(ref);
        const rec = after.get(ref)!;
        if (old === rec) continue;
        if (old && cls === 'pool' && pools.same(old, rec)) continue;
        touched(ref, old);
        touched(ref, rec);
      }
      if (any) keys.add(`f\0${cls}`);
      continue;
    }
    for (const [ref, rec] of after) {
      const old = before.get(ref);
      if (old === rec) continue;
      if (old && cls === 'pool' && pools.same(old, rec)) continue;
      touched(ref, old);
      touched(ref, rec);
    }
    for (const [ref, old] of before) if (!after.has(ref)) touched(ref, old);
    // Answers list objects in the class's order: an object removed and added back unchanged moves
    // behind the others, so from the first object out of its old place on, all count as touched.
    const earlier = before.keys();
    let inOrder = true;
    for (const [ref, rec] of after) {
      if (!before.has(ref)) continue;
      if (inOrder) {
        let next = earlier.next();
        while (!next.done && !after.has(next.value)) next = earlier.next();
        if (next.value === ref) continue;
        inOrder = false;
      }
      touched(ref, rec);
    }
    if (any) keys.add(`f\0${cls}`);
  }
  return keys;
}

/**
 * A traced planning's dependency keys grouped by class, with a bit per class: most of a new
 * state's changes are in a class or two (the VM xops just changed, its metrics), so an entry whose
 * classes did not change at all is told apart with one AND, and the others look only at the keys of
 * the classes that did.
 */
export interface Dependencies {
  mask: number;
  groups: { bit: number; keys: string[] }[];
}

/** Bits by class, given out as classes are met; past 31 classes they share the last (still sound: a shared bit only means looking). */
const CLASS_BITS = new Map<string, number>();
function classBit(cls: string): number {
  let bit = CLASS_BITS.get(cls);
  if (bit === undefined) CLASS_BITS.set(cls, (bit = CLASS_BITS.size < 31 ? 1 << CLASS_BITS.size : 1 << 31));
  return bit;
}

export function dependenciesOf(queries: readonly Query[]): Dependencies {
  const byBit = new Map<number, string[]>();
  let mask = 0;
  for (const q of queries) {
    const key = dependencyKey(q);
    if (key === undefined) continue;
    const bit = classBit(q[1]);
    mask |= bit;
    const keys = byBit.get(bit);
    if (keys) keys.push(key);
    else byBit.set(bit, [key]);
  }
  return { mask, groups: [...byBit].map(([bit, keys]) => ({ bit, keys })) };
}

/** The changes of stateChanges with the bits of the classes they touch. */
export interface ChangeSet {
  keys: ReadonlySet<string>;
  mask: number;
}

export function changeSet(keys: ReadonlySet<string>): ChangeSet {
  let mask = 0;
  // Every key is `<kind>\0<class>...`.
  for (const key of keys) mask |= classBit(key.split('\0')[1]!);
  return { keys, mask };
}

/** Whether any dependency is among the changes. */
export function touches(deps: Dependencies, changes: ChangeSet): boolean {
  if ((deps.mask & changes.mask) === 0) return false;
  for (const group of deps.groups) {
    if ((group.bit & changes.mask) === 0) continue;
    for (const key of group.keys) if (changes.keys.has(key)) return true;
  }
  return false;
}

