import { describe, expect, it } from 'vitest';
import type { ActionResult } from '../../src/apply/executor.js';
import { driftReports, managedAddresses } from '../../src/controller/drift.js';
import { OBSERVED_CLASSES, type ObservedClass, type ObservedState, type XapiRecord } from '../../src/model/observed.js';
import type { Action, Plan } from '../../src/model/plan.js';
import type { ObservedChange } from '../../src/observe/diff.js';

/** A pool with one managed VM (disk, VIF), one managed network (PIF, VLAN, bond), one managed SR (PBD). */
function pool(): ObservedState {
  const records = Object.fromEntries(OBSERVED_CLASSES.map((c) => [c, new Map<string, XapiRecord>()])) as ObservedState['records'];
  const put = (cls: ObservedClass, ref: string, rec: Record<string, unknown>) => (records[cls] as Map<string, XapiRecord>).set(ref, { uuid: `${ref}-uuid`, ...rec });
  const mark = (address: string, repo = 'default') => ({ 'xops.managed': address, 'xops.repo': repo });
  put('pool', 'pool', { other_config: { ...mark('Pool/demo'), 'xops.managed/VM_appliance/app-uuid': 'VMAppliance/shop', 'xops.lease': 'a|t1' } });
  put('VM', 'vm', { other_config: mark('VM/web'), VBDs: ['vbd'], VIFs: ['vif'], is_a_snapshot: false, memory_static_max: 1, current_operations: {} });
  put('VM', 'snap', { other_config: mark('VM/web'), is_a_snapshot: true });
  put('VM', 'foreign', { other_config: mark('VM/theirs', 'other-repo'), is_a_snapshot: false });
  put('VM', 'unmanaged', { other_config: {}, is_a_snapshot: false });
  put('VBD', 'vbd', { VM: 'vm', VDI: 'vdi' });
  put('VDI', 'vdi', { VBDs: ['vbd'], other_config: {} });
  put('VIF', 'vif', { VM: 'vm' });
  put('network', 'net', { other_config: mark('Network/backend') });
  put('PIF', 'pif', { network: 'net' });
  put('VLAN', 'vlan', { untagged_PIF: 'pif', tagged_PIF: 'nowhere' });
  put('Bond', 'bond', { master: 'pif' });
  put('SR', 'sr', { other_config: mark('SR/nfs') });
  put('PBD', 'pbd', { SR: 'sr' });
  put('VM_appliance', 'app', { uuid: 'app-uuid' });
  put('VM_metrics', 'metrics', { memory_actual: 1 });
  return { token: 't', observedAt: '', records };
}

/** A copy of `s` with one record replaced (or removed with `undefined`). */
function changed(s: ObservedState, cls: ObservedClass, ref: string, rec: Record<string, unknown> | undefined): ObservedState {
  const records = { ...s.records, [cls]: new Map(s.records[cls] as Map<string, XapiRecord>) } as ObservedState['records'];
  const map = records[cls] as Map<string, XapiRecord>;
  if (rec) map.set(ref, { ...map.get(ref)!, ...rec });
  else map.delete(ref);
  return { ...s, records };
}

describe('managedAddresses: which managed resources an observed change concerns', () => {
  const before = pool();
  const cases: { why: string; cls: ObservedClass; ref: string; op: ObservedChange['operation']; fields?: Record<string, unknown>; expected: string[] }[] = [
    { why: 'a managed VM changed: its own mark', cls: 'VM', ref: 'vm', op: 'mod', fields: { memory_static_max: 2 }, expected: ['VM/web'] },
    { why: 'only operations in flight changed: nothing configured moved', cls: 'VM', ref: 'vm', op: 'mod', fields: { current_operations: { t: 'start' } }, expected: [] },
    { why: 'a disk of a managed VM resized: the VM, through VDI → VBD → VM', cls: 'VDI', ref: 'vdi', op: 'mod', fields: { virtual_size: 5 }, expected: ['VM/web'] },
    { why: 'a VBD unplugged: the VM it belongs to', cls: 'VBD', ref: 'vbd', op: 'mod', fields: { currently_attached: false }, expected: ['VM/web'] },
    { why: 'a VIF destroyed: found in the state before the change', cls: 'VIF', ref: 'vif', op: 'del', expected: ['VM/web'] },
    { why: 'a PIF of a managed network', cls: 'PIF', ref: 'pif', op: 'mod', fields: { MTU: 9000 }, expected: ['Network/backend'] },
    { why: 'a VLAN, through its untagged PIF', cls: 'VLAN', ref: 'vlan', op: 'del', expected: ['Network/backend'] },
    { why: 'a bond, through its master PIF', cls: 'Bond', ref: 'bond', op: 'mod', fields: { mode: 'lacp' }, expected: ['Network/backend'] },
    { why: 'a PBD of a managed SR', cls: 'PBD', ref: 'pbd', op: 'mod', fields: { currently_attached: false }, expected: ['SR/nfs'] },
    { why: 'an appliance: its mark lives in the pool other_config', cls: 'VM_appliance', ref: 'app', op: 'mod', fields: { name_description: 'x' }, expected: ['VMAppliance/shop'] },
    { why: 'the pool lease renewed: bookkeeping, not configuration', cls: 'pool', ref: 'pool', op: 'mod', fields: { other_config: { ...before.records.pool.get('pool')!.other_config, 'xops.lease': 'a|t2' } }, expected: [] },
    { why: 'the pool description changed', cls: 'pool', ref: 'pool', op: 'mod', fields: { name_description: 'new' }, expected: ['Pool/demo'] },
    {
      why: "an appliance's mark in the pool map changed: the appliance, not the pool",
      cls: 'pool', ref: 'pool', op: 'mod',
      fields: { other_config: { ...before.records.pool.get('pool')!.other_config, 'xops.spec/VM_appliance/app-uuid': 'digest-2' } },
      expected: ['VMAppliance/shop'],
    },
    { why: 'a snapshot of a managed VM carries its mark but is not the VM', cls: 'VM', ref: 'snap', op: 'del', expected: [] },
    { why: "another repository's VM is not ours to reconcile", cls: 'VM', ref: 'foreign', op: 'mod', fields: { memory_static_max: 3 }, expected: [] },
    { why: 'an unmanaged VM', cls: 'VM', ref: 'unmanaged', op: 'mod', fields: { name_label: 'x' }, expected: [] },
    { why: 'VM metrics move all the time and are never configuration', cls: 'VM_metrics', ref: 'metrics', op: 'mod', fields: { memory_actual: 2 }, expected: [] },
  ];
  it.each(cases)('$why', (c) => {
    const after = changed(before, c.cls, c.ref, c.op === 'del' ? undefined : c.fields);
    expect(managedAddresses({ cls: c.cls, ref: c.ref, operation: c.op }, before, after, 'default')).toEqual(c.expected);
  });
});

function action(id: string, address: string, drift: boolean, paths: string[], operation: Action['operation'] = 'update'): Action {
  return {
    id, address, kind: 'VM', name: address.split('/')[1]!, operation, disruption: 'none', reason: '', dependsOn: [], objects: [], gate: { state: 'allowed' }, drift,
    changes: paths.map((path) => ({ path, from: 1, to: 2, disruption: 'none' })),
  };
}
const plan = (actions: Action[]): Plan => ({ formatVersion: 1, createdAt: '', source: { path: '.' }, observed: { token: 't', objects: {} }, actions, refused: [], diagnostics: [] });
const result = (a: Action, state: ActionResult['state']): ActionResult => ({ action: a, state });

describe('driftReports', () => {
  it('reports drift actions only, one entry per resource with its paths, healed only when every drift action of it succeeded', () => {
    const a = action('update:VM/a', 'VM/a', true, ['spec.memory', 'spec.description']);
    const b1 = action('update:VM/b', 'VM/b', true, ['spec.vcpus']);
    const b2 = action('power:VM/b', 'VM/b', true, [], 'power');
    const fromGit = action('update:VM/c', 'VM/c', false, ['spec.tags']);
    const reports = driftReports(plan([a, b1, b2, fromGit]), [result(a, 'succeeded'), result(b1, 'succeeded'), result(b2, 'failed'), result(fromGit, 'succeeded')]);
    expect(reports).toEqual([
      { address: 'VM/a', paths: ['spec.memory', 'spec.description'], healed: true },
      { address: 'VM/b', paths: ['spec.vcpus', '(power)'], healed: false },
    ]);
  });
});
