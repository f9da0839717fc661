/**
 * A PlanMemo carries a VM's kept plan to a newer pool state without asking its questions again
 * when none of its questions' keys is among the state's changes (src/plan/state-changes.ts). That
 * is only sound if every question whose answer differs has its key among the changes: these tests
 * ask the index's own questions of many random pairs of states and check exactly that, with the
 * memo's own answer comparison (sameAnswers) as the judge.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/prng.js';
import { indexObserved } from '../../src/model/observed-index.js';
import type { ObservedState, XapiRecord } from '../../src/model/observed.js';
import type { PlanContext, PlanTrace, Query } from '../../src/plan/context.js';
import { changeSet, dependenciesOf, dependencyKey, stateChanges, touches, type StateMaps } from '../../src/plan/state-changes.js';
import { PoolEquivalence, sameAnswers, tracingIndex } from '../../src/plan/trace.js';


const NAMES = ['web', 'db', 'cache', 'spare'];
const MARKS = ['VM/web', 'VM/db', undefined];

function vm(rand: () => number, i: number): XapiRecord {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const mark = pick(MARKS);
  return { uuid: `uuid-${i}`, name_label: pick(NAMES), other_config: mark ? { 'xops.managed': mark } : {} };
}

function stateOf(vms: Map<string, XapiRecord>, pools: Map<string, XapiRecord>): ObservedState {
  return { token: 't', records: { VM: vms, pool: pools } } as unknown as ObservedState;
}

function mapsOf(state: ObservedState): StateMaps {
  return { classes: Object.keys(state.records), maps: Object.values(state.records) as object[] };
}

/** Every question tracingIndex records about the two classes, asked of `state`. */
function questions(state: ObservedState): Query[] {
  const trace: PlanTrace = { queries: [], reads: [], lookups: [], users: [], uncacheable: false };
  const index = tracingIndex(indexObserved(state), () => trace);
  for (let i = 0; i < 10; i++) {
    index.get('VM', `OpaqueRef:vm-${i}`);
    index.byUuid('VM', `uuid-${i}`);
  }
  for (const name of [...NAMES, 'nobody']) index.byName('VM', name);
  for (const mark of MARKS) if (mark) index.managedIn('VM', mark);
  index.first('VM');
  index.get('pool', 'OpaqueRef:pool');
  index.first('pool');
  return trace.queries;
}

/** One random change of the VM class: replaced (renamed, re-marked, re-uuided or only copied), removed, added, or removed and added back unchanged. */
function mutate(rand: () => number, vms: Map<string, XapiRecord>, next: { i: number }): void {
  const refs = [...vms.keys()];
  const ref = refs[Math.floor(rand() * refs.length)];
  const what = Math.floor(rand() * 7);
  if (!ref || what === 0) {
    vms.set(`OpaqueRef:vm-${next.i}`, vm(rand, next.i));
    next.i++;
    return;
  }
  const rec = vms.get(ref)!;
  if (what === 1) vms.delete(ref);
  else if (what === 2) vms.set(ref, { ...rec, name_label: NAMES[Math.floor(rand() * NAMES.length)]! });
  else if (what === 3) vms.set(ref, { ...rec, other_config: { 'xops.managed': MARKS[Math.floor(rand() * 2)]! } });
  else if (what === 4) vms.set(ref, { ...rec, uuid: `uuid-${Math.floor(rand() * 10)}` });
  else if (what === 5) vms.set(ref, { ...rec, name_description: 'touched' });
  else {
    vms.delete(ref);
    vms.set(ref, rec);
  }
}

describe('the changes between two pool states (what a kept VM plan is carried over by)', () => {
  it('name every question whose answer differs, over many random changes', () => {
    const pools = new PoolEquivalence();
    let differing = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const rand = prng(seed);
      const vms = new Map<string, XapiRecord>();
      const next = { i: 0 };
      for (; next.i < 6; next.i++) vms.set(`OpaqueRef:vm-${next.i}`, vm(rand, next.i));
      const pool = new Map([['OpaqueRef:pool', { uuid: 'p', name_label: 'pool', default_SR: 'OpaqueRef:sr', other_config: {} } as XapiRecord]]);
      const before = stateOf(vms, pool);
      const changedVms = new Map(vms);
      const steps = 1 + Math.floor(rand() * 3);
      for (let s = 0; s < steps; s++) mutate(rand, changedVms, next);
      const after = stateOf(changedVms, pool);
      const keys = stateChanges(mapsOf(before), mapsOf(after), pools)!;
      const ctx = { observed: after } as unknown as PlanContext;
      const index = indexObserved(after);
      const asked = questions(before);
      const changes = changeSet(keys);
      let any = false;
      for (const q of asked) {
        if (sameAnswers([q], ctx, index, new Map(), pools)) continue;
        differing++;
        any = true;
        expect(keys.has(dependencyKey(q)!), `seed ${seed}: ${q[0]} ${q[1]} ${q[2]} changed, its key is not among the changes`).toBe(true);
        // And the memo's check by class (one bit per class, then the keys) finds it.
        expect(touches(dependenciesOf([q]), changes), `seed ${seed}: ${q[0]} ${q[1]} ${q[2]}`).toBe(true);
      }
      if (any) expect(touches(dependenciesOf(asked), changes)).toBe(true);
    }
    // The cases above are not all trivial: many answers did change.
    expect(differing).toBeGreaterThan(400);
  });

  it('leave out the objects that did not change, and a pool whose lease alone was renewed', () => {
    const pools = new PoolEquivalence();
    const web: XapiRecord = { uuid: 'u-web', name_label: 'web', other_config: { 'xops.managed': 'VM/web' } };
    const legacy: XapiRecord = { uuid: 'u-legacy', name_label: 'legacy', other_config: {} };
    const pool = { uuid: 'p', name_label: 'pool', default_SR: 'OpaqueRef:sr', other_config: { 'xops.lease': 'a|1|2' } };
    const before = stateOf(new Map([['OpaqueRef:web', web], ['OpaqueRef:legacy', legacy]]), new Map([['OpaqueRef:pool', pool as XapiRecord]]));
    const after = stateOf(
      new Map<string, XapiRecord>([['OpaqueRef:web', web], ['OpaqueRef:legacy', { ...legacy, name_description: 'touched' }]]),
      new Map([['OpaqueRef:pool', { ...pool, other_config: { 'xops.lease': 'a|2|3' } } as XapiRecord]]),
    );
    const keys = stateChanges(mapsOf(before), mapsOf(after), pools)!;
    expect([...keys].sort()).toEqual(['f\0VM', 'g\0VM\0OpaqueRef:legacy', 'n\0VM\0legacy', 'u\0VM\0u-legacy']);
    // A pool field plans read is a change.
    const moved = stateOf(after.records.VM as Map<string, XapiRecord>, new Map([['OpaqueRef:pool', { ...pool, default_SR: 'OpaqueRef:other' } as XapiRecord]]));
    expect(stateChanges(mapsOf(after), mapsOf(moved), pools)!.has('g\0pool\0OpaqueRef:pool')).toBe(true);
  });
});
