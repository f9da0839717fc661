/**
 * Values derived from observed state are cached only for sealed state (the controller's event-fed,
 * copy-on-write snapshots): a state built by hand and changed in place must never be answered from
 * a cache, or a plan would be made against what the pool no longer is.
 */
import { describe, expect, it } from 'vitest';
import { liveInventoryFrom } from '../../src/manifests/index.js';
import { indexObserved } from '../../src/model/observed-index.js';
import { OBSERVED_CLASSES, type ObservedState, type XapiRecord } from '../../src/model/observed.js';
import { sealState } from '../../src/model/sealed.js';
import { recordDigest } from '../../src/plan/identity.js';
import { createContext, identityObjectsSteps, read } from '../../src/plan/context.js';
import { runSteps } from '../../src/model/steps.js';
import type { DesiredState } from '../../src/model/desired.js';

function state(): ObservedState {
  const records = Object.fromEntries(OBSERVED_CLASSES.map((cls) => [cls, new Map<string, XapiRecord>()])) as unknown as ObservedState['records'];
  const vm = { uuid: 'u-1', name_label: 'web-01', is_a_template: false, is_a_snapshot: false, is_control_domain: false, other_config: { 'xops.managed': 'VM/web-01' } };
  (records.VM as Map<string, XapiRecord>).set('OpaqueRef:vm1', vm as unknown as XapiRecord);
  return { token: 't', observedAt: '2026-01-01T00:00:00Z', records };
}

describe('derived values of observed state', () => {
  it('follow an unsealed state changed in place', () => {
    const s = state();
    expect(indexObserved(s).byName('VM', 'web-01')).toHaveLength(1);
    expect(liveInventoryFrom(s).has('VM', 'web-01')).toBe(true);
    const rec = s.records.VM.get('OpaqueRef:vm1')!;
    const digest = recordDigest('VM', rec);
    rec.name_label = 'web-02';
    (rec.other_config as Record<string, string>)['xops.managed'] = 'VM/web-02';
    expect(indexObserved(s).byName('VM', 'web-01')).toEqual([]);
    expect(indexObserved(s).managed('VM/web-02')).toEqual([{ cls: 'VM', ref: 'OpaqueRef:vm1' }]);
    expect(liveInventoryFrom(s).has('VM', 'web-02')).toBe(true);
    expect(recordDigest('VM', rec)).not.toBe(digest);
  });

  it('are the same for a sealed state as for an unsealed copy of it', () => {
    const sealed = state();
    sealState(sealed);
    const plain = state();
    for (const s of [sealed, sealed, plain]) {
      const index = indexObserved(s);
      expect(index.byUuid('VM', 'u-1')?.[0]).toBe('OpaqueRef:vm1');
      expect(index.managed('VM/web-01')).toEqual([{ cls: 'VM', ref: 'OpaqueRef:vm1' }]);
      expect([...index.managedOf('VM').keys()]).toEqual(['VM/web-01']);
    }
    expect(recordDigest('VM', sealed.records.VM.get('OpaqueRef:vm1')!)).toBe(recordDigest('VM', plain.records.VM.get('OpaqueRef:vm1')!));
    expect(liveInventoryFrom(sealed)).toBe(liveInventoryFrom({ ...sealed, token: 'next' }));
  });

  it('give a sealed state the same live inventory while no name or uuid changed, and a new one when one did', () => {
    const first = state();
    sealState(first);
    const inventory = liveInventoryFrom(first);
    const withVms = (vm: XapiRecord): ObservedState => {
      const next = { ...first, records: { ...first.records, VM: new Map([['OpaqueRef:vm1', vm]]) } } as ObservedState;
      sealState(next);
      return next;
    };
    const vm = first.records.VM.get('OpaqueRef:vm1')!;
    // Started: a new VM map, the same names.
    expect(liveInventoryFrom(withVms({ ...vm, power_state: 'Running' } as XapiRecord))).toBe(inventory);
    const renamed = liveInventoryFrom(withVms({ ...vm, name_label: 'web-02' } as XapiRecord));
    expect(renamed).not.toBe(inventory);
    expect([renamed.has('VM', 'web-02'), renamed.has('VM', 'web-01')]).toEqual([true, false]);
    // A VM added, and one turned into a template, are new inventories too.
    const two = { ...first, records: { ...first.records, VM: new Map([['OpaqueRef:vm1', vm], ['OpaqueRef:vm2', { ...vm, uuid: 'u-2', name_label: 'db-01' } as XapiRecord]]) } } as ObservedState;
    sealState(two);
    expect(liveInventoryFrom(two).has('VM', 'db-01')).toBe(true);
    const template = liveInventoryFrom(withVms({ ...vm, is_a_template: true } as XapiRecord));
    expect([template.has('Template', 'web-01'), template.has('VM', 'web-01')]).toEqual([true, false]);
  });
});

describe("a plan's observed.objects", () => {
  const objectsOf = (s: ObservedState, lookups: [string, string][] = []) => {
    const ctx = createContext({ vms: [], documents: [] } as unknown as DesiredState, s, { now: new Date(0) });
    read(ctx, 'VM', 'OpaqueRef:vm1');
    for (const [key, text] of lookups) ctx.lookups.set(key, text);
    return runSteps(identityObjectsSteps(ctx, true));
  };

  it('is reused for the same sealed reads, and equals what an unsealed copy gives', () => {
    const sealed = state();
    sealState(sealed);
    const first = objectsOf(sealed);
    expect(objectsOf(sealed)).toBe(first);
    expect(objectsOf(state())).toEqual(first);
    // Another answer to a lookup is another identity.
    const looked = objectsOf(sealed, [['VM?name_label=web-09', '[]']]);
    expect(looked).not.toBe(first);
    expect(Object.keys(looked)).toContain('VM?name_label=web-09');
  });

  it('follows an unsealed state changed in place', () => {
    const s = state();
    const before = objectsOf(s);
    s.records.VM.get('OpaqueRef:vm1')!.name_label = 'web-02';
    const after = objectsOf(s);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    expect(Object.values(after)).not.toEqual(Object.values(before));
  });
});
