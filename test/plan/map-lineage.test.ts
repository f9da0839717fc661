/**
 * The changes between two states of the event-fed pool, found from the observer's notes of which
 * records each batch replaced (model/map-lineage.ts) instead of by comparing the maps, must be the
 * changes comparing finds: a key missing would let a kept VM plan stand on a stale answer.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/prng.js';
import { noteReplaced, replacedSince } from '../../src/model/map-lineage.js';
import type { ObservedState, XapiRecord } from '../../src/model/observed.js';
import { stateChanges, type StateMaps } from '../../src/plan/state-changes.js';
import { PoolEquivalence } from '../../src/plan/trace.js';

const NAMES = ['web', 'db', 'cache'];

function mapsOf(vms: Map<string, XapiRecord>, pool: Map<string, XapiRecord>): StateMaps {
  const state = { records: { VM: vms, pool } } as unknown as ObservedState;
  return { classes: Object.keys(state.records), maps: Object.values(state.records) as object[] };
}

/** One batch as the observer applies it when it only replaces records: a copy, some records replaced, the note. */
function replaceSome(rand: () => number, map: Map<string, XapiRecord>): Map<string, XapiRecord> {
  const next = new Map(map);
  const refs = [...map.keys()];
  const replaced: string[] = [];
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const ref = refs[Math.floor(rand() * refs.length)]!;
    const rec = next.get(ref)!;
    const what = Math.floor(rand() * 4);
    next.set(ref, what === 0 ? { ...rec, name_label: NAMES[Math.floor(rand() * NAMES.length)]! } : what === 1 ? { ...rec, other_config: { 'xops.managed': `VM/${ref}` } } : what === 2 ? { ...rec, uuid: `u-${Math.floor(rand() * 40)}` } : { ...rec, VCPUs_at_startup: Math.floor(rand() * 8) });
    replaced.push(ref);
  }
  noteReplaced(next, map, replaced);
  return next;
}

describe('changes found from the event stream\'s notes', () => {
  it('are the changes comparing the maps finds, over many random chains of batches', () => {
    const pools = new PoolEquivalence();
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(seed);
      const first = new Map<string, XapiRecord>();
      for (let i = 0; i < 30; i++) first.set(`OpaqueRef:vm-${i}`, { uuid: `u-${i}`, name_label: NAMES[i % 3]!, other_config: i % 2 ? { 'xops.managed': `VM/vm-${i}` } : {} });
      const pool = new Map([['OpaqueRef:pool', { uuid: 'p', name_label: 'pool', other_config: {} } as XapiRecord]]);
      const chain = [first];
      for (let b = 1 + Math.floor(rand() * 6); b > 0; b--) chain.push(replaceSome(rand, chain.at(-1)!));
      const from = Math.floor(rand() * chain.length);
      const to = from + Math.floor(rand() * (chain.length - from));
      const before = chain[from]!;
      const after = chain[to]!;
      expect(replacedSince(after, before), `seed ${seed}`).toBeDefined();
      const noted = stateChanges(mapsOf(before, pool), mapsOf(after, pool), pools)!;
      // Copies carry no notes: these are compared entry by entry.
      const compared = stateChanges(mapsOf(new Map(before), pool), mapsOf(new Map(after), pool), pools)!;
      expect([...noted].sort(), `seed ${seed}`).toEqual([...compared].sort());
    }
  });

  it('are not known across maps the notes do not link, or backwards', () => {
    const a = new Map<string, XapiRecord>([['OpaqueRef:1', { uuid: 'u1', name_label: 'one', other_config: {} }]]);
    const b = new Map(a);
    b.set('OpaqueRef:1', { uuid: 'u1', name_label: 'uno', other_config: {} });
    noteReplaced(b, a, ['OpaqueRef:1']);
    expect([...replacedSince(b, a)!]).toEqual(['OpaqueRef:1']);
    expect(replacedSince(b, b)!.size).toBe(0);
    // A map read afresh (a resync), and the way back, are compared instead.
    expect(replacedSince(new Map(b), a)).toBeUndefined();
    expect(replacedSince(a, b)).toBeUndefined();
  });
});
