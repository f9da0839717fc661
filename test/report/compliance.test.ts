import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../../src/model/desired.js';
import type { ObservedState } from '../../src/model/observed.js';
import type { Action, Plan } from '../../src/model/plan.js';
import { complianceReport } from '../../src/report/compliance.js';

// Only the fields the report reads are filled in; the planner's own tests cover how plans are made.
const desired = (addresses: string[]) => ({ documents: addresses.map((address) => ({ address, kind: address.split('/')[0] })) }) as unknown as DesiredState;
const action = (address: string, extra: Partial<Action> = {}): Action =>
  ({ id: `${address}#${extra.operation ?? 'update'}`, address, operation: 'update', disruption: 'none', reason: 'spec differs', changes: [{ path: 'spec.memory', from: 1, to: 2, disruption: 'reboot' }], dependsOn: [], objects: [], gate: { state: 'allowed' }, ...extra }) as Action;
const plan = (p: Partial<Plan>): Plan => ({ formatVersion: 1, createdAt: '2026-12-01T10:00:00.000Z', source: { path: '.' }, observed: { token: 't', objects: {} }, actions: [], refused: [], diagnostics: [], ...p }) as Plan;
const observed = (vms: Record<string, unknown>[] = []) =>
  ({
    records: {
      pool: new Map([['p', { uuid: 'pool-uuid', name_label: 'demo', other_config: {} }]]),
      VM: new Map(vms.map((v, i) => [`vm${i}`, { uuid: `vm-${i}`, is_a_template: false, is_a_snapshot: false, is_control_domain: false, other_config: {}, ...v }])),
      network: new Map(),
      SR: new Map(),
    },
  }) as unknown as ObservedState;

describe('complianceReport: one state per declared resource, the most alarming', () => {
  const cases: { why: string; plan: Partial<Plan>; expected: object }[] = [
    { why: 'nothing planned: synced', plan: {}, expected: { state: 'synced' } },
    { why: 'a create planned: missing from the pool', plan: { actions: [action('VM/a', { operation: 'create' })] }, expected: { state: 'missing' } },
    { why: 'the manifest changed: out of sync, with the fields', plan: { actions: [action('VM/a')] }, expected: { state: 'out-of-sync', fields: [{ path: 'spec.memory', pool: '1', manifest: '2' }] } },
    { why: 'a policy holds the change', plan: { actions: [action('VM/a', { gate: { state: 'held', policy: 'nightly', reason: 'outside window' } })] }, expected: { state: 'held', reason: 'nightly: outside window' } },
    {
      why: 'drift beats held: drift: report holds the drift action, and the pool was still changed behind xops',
      plan: { actions: [action('VM/a', { drift: true, gate: { state: 'held', policy: 'p', reason: 'drift is reported, not healed' } })] },
      expected: { state: 'drifted', reason: 'changed outside xops: spec.memory' },
    },
    { why: 'an admission error: denied', plan: { diagnostics: [{ severity: 'error', code: 'admission', message: 'no', address: 'VM/a' }] }, expected: { state: 'denied', reason: 'no' } },
    { why: 'a planner error: failed', plan: { diagnostics: [{ severity: 'error', code: 'conflict', message: 'unmanaged VM named a', address: 'VM/a' }] }, expected: { state: 'failed' } },
    { why: 'a refusal beats drift', plan: { actions: [action('VM/a', { drift: true })], refused: [{ address: 'VM/a', path: 'spec.disks[0].size', reason: 'shrink' }] }, expected: { state: 'refused', reason: 'spec.disks[0].size: shrink' } },
  ];
  for (const c of cases) {
    it(c.why, () => {
      const r = complianceReport(desired(['VM/a']), observed(), plan(c.plan), { path: '.' });
      expect(r.resources).toEqual([expect.objectContaining({ address: 'VM/a', ...c.expected })]);
      expect(r.summary[r.resources[0].state]).toBe(1);
    });
  }
});

describe('complianceReport: what no manifest declares', () => {
  it('lists managed objects no manifest declares (prune on or off) and the pool objects this repository does not manage', () => {
    const p = plan({
      actions: [action('VM/gone', { operation: 'delete' })],
      diagnostics: [{ severity: 'warning', code: 'would-prune', message: 'VM/old is no longer declared', address: 'VM/old' }],
    });
    const pool = observed([
      { name_label: 'hand-made' },
      { name_label: 'template', is_a_template: true },
      { name_label: 'dom0', is_control_domain: true },
      { name_label: 'ours', other_config: { 'xops.managed': 'VM/a', 'xops.repo': 'infra' } },
      { name_label: 'theirs', other_config: { 'xops.managed': 'VM/b', 'xops.repo': 'other' } },
    ]);
    const r = complianceReport(desired(['VM/a']), pool, p, { path: '.', repo: 'infra', commit: 'abc123' });
    expect(r.undeclared).toEqual(['VM/gone', 'VM/old']);
    expect(r.unmanaged).toEqual([
      { cls: 'VM', uuid: 'vm-0', name: 'hand-made' },
      { cls: 'VM', uuid: 'vm-4', name: 'theirs', address: 'VM/b', repo: 'other' },
    ]);
    expect(r).toMatchObject({ commit: 'abc123', pool: { name: 'demo', uuid: 'pool-uuid' } });
  });
});
