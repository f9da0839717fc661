/**
 * What a VM's planning asked of the pool's state, so that a PlanMemo (memo.ts) can tell whether its
 * kept effects still hold for a newer state without planning it again: every lookup (by ref, uuid,
 * name, mark, the first of a class, and values derived from whole classes) with its answer, by the
 * identity of the records answering. The controller's state is sealed and copy-on-write, so an
 * unchanged object keeps its record; asking again and getting the same records means the planning
 * would do the same. A churning pool (guest metrics of thousands of VMs) then costs a re-plan only
 * for the VMs whose own objects changed.
 */
import type { ObservedIndex } from '../model/observed-index.js';
import { poolWithoutLease, type ObservedClass, type ObservedState, type XapiRecord } from '../model/observed.js';
import { ownerAnswer, type OwnedClass, type Ownership, type PlanContext, type PlanTrace, type Query } from './context.js';

export type { Query };

/** Inputs of each derived value by key (see derivedValue): what it is computed from. */
const DERIVED = new Map<string, (state: ObservedState) => readonly unknown[]>();

/**
 * An ObservedIndex that answers as `base` and records each question in the trace `traceOf()`
 * returns (when there is one). `managed` and `managedOf` answer across classes; a phase using them
 * is not kept.
 */
export function tracingIndex(base: ObservedIndex, traceOf: () => PlanTrace | undefined): ObservedIndex {
  return {
    get(cls, ref) {
      const rec = base.get(cls, ref);
      traceOf()?.queries.push(['get', cls, ref, [rec]]);
      return rec;
    },
    byUuid(cls, uuid) {
      const hit = base.byUuid(cls, uuid);
      traceOf()?.queries.push(['uuid', cls, uuid, hit ? hit : []]);
      return hit;
    },
    byName(cls, name) {
      const hits = base.byName(cls, name);
      traceOf()?.queries.push(['name', cls, name, hits.flat()]);
      return hits;
    },
    managedIn(cls, address) {
      const refs = base.managedIn(cls, address);
      traceOf()?.queries.push(['mark', cls, address, refs]);
      return refs;
    },
    first(cls) {
      const hit = base.first(cls);
      traceOf()?.queries.push(['first', cls, '', hit ? hit : []]);
      return hit;
    },
    managed(address) {
      const t = traceOf();
      if (t) t.uncacheable = true;
      return base.managed(address);
    },
    managedOf(cls) {
      const t = traceOf();
      if (t) t.uncacheable = true;
      return base.managedOf(cls);
    },
    markedIn(cls) {
      const t = traceOf();
      if (t) t.uncacheable = true;
      return base.markedIn(cls);
    },
  };
}

/**
 * A value computed from whole classes, once per plan (`ctx.memo`), whose users are traced by its
 * inputs: `inputsOf(state)` lists what it depends on (records, by identity), cheaply. Returns the
 * accessor kinds call. Registered by key at module load, so a memo can ask for the inputs again.
 */
export function derivedValue<V>(key: string, inputsOf: (state: ObservedState) => readonly unknown[]): (ctx: PlanContext, compute: () => V) => V {
  DERIVED.set(key, inputsOf);
  const inputsKey = `${key}#inputs`;
  return (ctx, compute) => {
    if (ctx.trace) {
      let inputs = ctx.memo.get(inputsKey) as readonly unknown[] | undefined;
      if (!inputs) ctx.memo.set(inputsKey, (inputs = inputsOf(ctx.observed)));
      ctx.trace.queries.push(['derived', key, '', inputs]);
    }
    let value = ctx.memo.get(key) as V | undefined;
    if (value === undefined) ctx.memo.set(key, (value = compute()));
    return value;
  };
}

/**
 * Asks a state the questions of a trace again, through `index` (the state's own, not a tracing
 * one). True when every answer is the same records (a pool record may be an equivalent copy: see
 * PoolEquivalence). `derived` caches a state's derived inputs.
 */
export function sameAnswers(queries: readonly Query[], ctx: PlanContext, index: ObservedIndex, derived: Map<string, readonly unknown[]>, pools: PoolEquivalence): boolean {
  const state = ctx.observed;
  for (const [kind, cls, arg, answer] of queries) {
    const c = cls as ObservedClass;
    let now: readonly unknown[];
    switch (kind) {
      case 'get': {
        const rec = index.get(c, arg);
        if (rec === answer[0]) continue;
        if (c === 'pool' && rec && answer[0] && pools.same(answer[0] as XapiRecord, rec)) continue;
        return false;
      }
      case 'uuid':
        now = index.byUuid(c, arg) ?? [];
        break;
      case 'name':
        now = index.byName(c, arg).flat();
        break;
      case 'mark':
        now = index.managedIn(c, arg);
        break;
      case 'first':
        now = index.first(c) ?? [];
        break;
      case 'owner':
        // Asked of the context: the plan's ownership pass has run for every manifest by now.
        now = ownerAnswer(Map.prototype.get.call(ctx.owners, arg) as Ownership<OwnedClass> | undefined);
        break;
      case 'derived': {
        let inputs = derived.get(cls);
        if (!inputs) derived.set(cls, (inputs = DERIVED.get(cls)!(state)));
        now = inputs;
        break;
      }
    }
    if (now.length !== answer.length) return false;
    for (let i = 0; i < now.length; i++) {
      if (now[i] === answer[i]) continue;
      const a = answer[i];
      const b = now[i];
      // Only answers about the pool class hold pool records (no owner rule is for the pool).
      if (c === 'pool' && typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && pools.same(a as XapiRecord, b as XapiRecord)) continue;
      return false;
    }
  }
  return true;
}

/**
 * Whether two pool records are the same for planning: the controller renews its lease in the
 * pool's other_config every few seconds, which replaces the record without changing anything a
 * plan reads (LEASE_KEY). Callers compare only records of the pool class; answers are cached per pair.
 */
export class PoolEquivalence {
  private readonly known = new WeakMap<XapiRecord, WeakSet<XapiRecord>>();

  same(a: XapiRecord, b: XapiRecord): boolean {
    if (this.known.get(a)?.has(b)) return true;
    if (JSON.stringify(poolWithoutLease(a)) !== JSON.stringify(poolWithoutLease(b))) return false;
    let set = this.known.get(a);
    if (!set) this.known.set(a, (set = new WeakSet()));
    set.add(b);
    return true;
  }
}

