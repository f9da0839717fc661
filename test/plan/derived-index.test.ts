/**
 * After an event batch the observer publishes new class maps, and the index of a map whose records
 * were only replaced may share the previous map's lookups (model/observed-index.ts indexDerived).
 * Whatever the batch did, every lookup must answer exactly what an index built afresh answers.
 */
import { describe, expect, it } from 'vitest';
import { indexDerived, indexObserved } from '../../src/model/observed-index.js';
import { OBSERVED_CLASSES, type ObservedState, type XapiRecord } from '../../src/model/observed.js';
import { sealMap, sealRecord, sealState } from '../../src/model/sealed.js';
import { prng } from '../../bench/prng.js';

function vm(i: number, name: string, mark?: string): XapiRecord {
  return { uuid: `u-${i}`, name_label: name, VCPUs_max: 1, other_config: mark ? { 'xops.managed': mark } : {} } as unknown as XapiRecord;
}

function stateWith(vms: Map<string, XapiRecord>): ObservedState {
  const records = Object.fromEntries(OBSERVED_CLASSES.map((cls) => [cls, new Map<string, XapiRecord>()])) as unknown as ObservedState['records'];
  (records as unknown as Record<string, Map<string, XapiRecord>>).VM = vms;
  return { token: 't', observedAt: '2026-01-01T00:00:00Z', records };
}

/** Every answer of the index about the VM class, for names, uuids and marks in `keys`. */
function answers(state: ObservedState, keys: string[]): unknown {
  const index = indexObserved(state);
  return keys.map((k) => [index.byName('VM', k), index.byUuid('VM', k), index.managedIn('VM', k), index.managed(k)]);
}

describe('the index of a class map derived from the one before', () => {
  it('answers as an index built afresh, over random batches of setting, name and mark changes', () => {
    const random = prng(20261202);
    const names = ['web', 'db', 'app', 'cache'];
    const marks = ['VM/web', 'VM/db', undefined];
    let map = new Map<string, XapiRecord>();
    for (let i = 0; i < 40; i++) map.set(`OpaqueRef:${i}`, vm(i, names[i % names.length]!, marks[i % marks.length]));
    let state = stateWith(map);
    sealState(state);
    const keys = [...names, ...marks.filter((m): m is string => m !== undefined), ...Array.from({ length: 40 }, (_, i) => `u-${i}`)];
    answers(state, keys);
    for (let round = 0; round < 200; round++) {
      const next = new Map(map);
      const replaced = new Set<string>();
      for (let k = 0; k < 1 + Math.floor(random() * 3); k++) {
        const i = Math.floor(random() * 40);
        const ref = `OpaqueRef:${i}`;
        const old = next.get(ref)!;
        const what = random();
        // Mostly a setting (keys kept, so the lookups are shared); sometimes a rename or a new mark.
        const name = what < 0.15 ? names[Math.floor(random() * names.length)]! : String(old.name_label);
        const mark = what > 0.9 ? marks[Math.floor(random() * marks.length)] : (old.other_config as Record<string, string>)['xops.managed'];
        const rec = { ...vm(i, name, mark), VCPUs_max: Number(old.VCPUs_max) + 1 } as XapiRecord;
        sealRecord(rec);
        next.set(ref, rec);
        replaced.add(ref);
      }
      sealMap(next, false);
      indexDerived(next, map, replaced);
      const derived = { ...state, records: { ...state.records, VM: next } } as ObservedState;
      const fresh = stateWith(new Map(next));
      expect(answers(derived, keys)).toEqual(answers(fresh, keys));
      map = next;
      state = derived;
    }
  });

  it('is not derived when a record was added or removed, nor from a map whose lookups were never built', () => {
    const first = new Map([['OpaqueRef:1', vm(1, 'web', 'VM/web')]]);
    const s1 = stateWith(first);
    sealState(s1);
    const grown = new Map([...first, ['OpaqueRef:2', vm(2, 'web', 'VM/web')]]);
    sealMap(grown, true);
    indexObserved(s1).byName('VM', 'web');
    // Told (wrongly) that only a record was replaced: the sizes differ, so nothing is shared.
    indexDerived(grown, first, ['OpaqueRef:1']);
    expect(indexObserved({ ...s1, records: { ...s1.records, VM: grown } } as ObservedState).byName('VM', 'web').map(([r]) => r)).toEqual(['OpaqueRef:1', 'OpaqueRef:2']);
  });
});
