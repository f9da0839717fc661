import { describe, expect, it } from 'vitest';
import type { ActionResult } from '../../src/apply/executor.js';
import { ConsoleReport } from '../../src/controller/console-report.js';
import { formatLogEntry } from '../../src/controller/human-log.js';
import { NO_APPROVAL_POLICY, reconcileOutcome } from '../../src/controller/outcome.js';
import type { Action, ActionGate, Plan } from '../../src/model/plan.js';
import type { Disruption } from '../../src/model/kinds.js';

function action(id: string, opts: { dependsOn?: string[]; gate?: ActionGate; disruption?: Disruption } = {}): Action {
  const address = id.split(':')[1]!;
  return {
    id, address, kind: 'VM', name: address.split('/')[1]!, operation: 'update', disruption: opts.disruption ?? 'none', reason: 'r',
    changes: [{ path: 'spec.memory', from: 1, to: 2, disruption: opts.disruption ?? 'none' }], dependsOn: opts.dependsOn ?? [], objects: [],
    gate: opts.gate ?? { state: 'allowed' },
  };
}
const plan = (actions: Action[], commit = 'c1'): Plan => ({ formatVersion: 1, createdAt: '', source: { path: '.', commit }, observed: { token: 't', objects: {} }, actions, refused: [], diagnostics: [] });

describe('reconcileOutcome', () => {
  it('reports applied, policy-held and unapproved destructive actions, and stays ok', () => {
    const ok = action('update:VM/a');
    const held = action('update:VM/b', { disruption: 'reboot', gate: { state: 'held', policy: 'nightly', reason: 'outside maintenance window' } });
    const destructive = action('delete:VM/c', { disruption: 'destructive' });
    const waits = action('update:VM/d', { dependsOn: ['delete:VM/c'] });
    const results: ActionResult[] = [
      { action: ok, state: 'succeeded', ms: 12.4 },
      { action: held, state: 'held', reason: 'held by policy nightly' },
      { action: destructive, state: 'skipped', reason: 'destructive: not approved by a policy (pass --allow-destructive to run it anyway)' },
      { action: waits, state: 'skipped', reason: 'depends on delete:VM/c, which was not run' },
    ];
    const out = reconcileOutcome(plan([ok, held, destructive, waits]), results, ['VM/a', 'VM/b', 'VM/c', 'VM/d']);
    expect(out.ok).toBe(true);
    expect(out.applied).toEqual([{ id: 'update:VM/a', address: 'VM/a', disruption: 'none', ok: true, durationMs: 12 }]);
    expect(out.held).toEqual([
      { id: 'update:VM/b', address: 'VM/b', disruption: 'reboot', policy: 'nightly', reason: 'outside maintenance window' },
      // The CLI's flag is no advice for a controller: the reason says what the repository must say instead.
      { id: 'delete:VM/c', address: 'VM/c', disruption: 'destructive', policy: NO_APPROVAL_POLICY, reason: expect.stringMatching(/approval: \[destructive\].*xops\.io\/approve/) },
      { id: 'update:VM/d', address: 'VM/d', disruption: 'none', policy: NO_APPROVAL_POLICY, reason: 'depends on delete:VM/c, which was not run' },
    ]);
  });

  it('fails with the failed action named; what only waited on it is not called held', () => {
    const bad = action('update:VM/a');
    const after = action('update:VM/b', { dependsOn: ['update:VM/a'] });
    const out = reconcileOutcome(plan([bad, after]), [
      { action: bad, state: 'failed', reason: 'VM.set_memory: MEMORY_CONSTRAINT_VIOLATION', error: new Error('x') },
      { action: after, state: 'skipped', reason: 'depends on update:VM/a, which failed' },
    ], []);
    expect(out.ok).toBe(false);
    expect(out.error).toBe('1 action(s) failed: update:VM/a: VM.set_memory: MEMORY_CONSTRAINT_VIOLATION');
    expect(out.applied).toEqual([expect.objectContaining({ id: 'update:VM/a', ok: false })]);
    expect(out.held).toEqual([]);
  });

  it('an action kept from starting by shutdown is neither applied nor failed, nor held', () => {
    const ran = action('update:VM/a');
    const stopped = action('update:VM/b');
    const after = action('update:VM/c', { dependsOn: ['update:VM/b'] });
    const out = reconcileOutcome(plan([ran, stopped, after]), [
      { action: ran, state: 'succeeded' },
      { action: stopped, state: 'skipped', interrupted: true, reason: 'not started: apply was interrupted' },
      { action: after, state: 'skipped', reason: 'depends on update:VM/b, which failed' },
    ], []);
    expect(out.applied?.map((a) => a.id)).toEqual(['update:VM/a']);
    expect(out.held).toEqual([]);
    expect(out.ok).toBe(false);
    expect(out.error).toBe('interrupted by shutdown before every action ran');
  });
});

describe('ConsoleReport (xops run --log-format text)', () => {
  const capture = () => {
    const out: string[] = [];
    return { out, report: new ConsoleReport((t) => void out.push(t), { color: false }) };
  };

  it('prints a plan with work to do every time, but a plan of the same held actions only once', () => {
    const { out, report } = capture();
    const held = action('update:VM/b', { disruption: 'reboot', gate: { state: 'held', policy: 'nightly', reason: 'outside maintenance window' } });
    report.plan(plan([held]));
    report.plan(plan([held]));
    expect(out.filter((t) => t.includes('update VM/b'))).toHaveLength(1);
    report.plan(plan([action('update:VM/a')]));
    report.plan(plan([action('update:VM/a')]));
    expect(out.filter((t) => t.includes('update VM/a'))).toHaveLength(2);
    report.plan(plan([]));
    expect(out.at(-1)).toBe('The pool matches the manifests.\n');
  });

  it('lists an invalid revision once, with every problem as file:line', () => {
    const { out, report } = capture();
    const invalid = { ok: false, invalid: [{ severity: 'error' as const, code: 'schema', message: 'must be a size', location: { file: 'vm.yaml', line: 9, col: 11 }, address: 'VM/a', path: 'spec.memory' }] };
    report.outcome(invalid, { commit: 'abc', files: [] });
    report.outcome(invalid, { commit: 'abc', files: [] });
    expect(out.join('')).toBe('\nCommit abc is invalid; nothing was applied and the last good commit stays in force:\n  vm.yaml:9:11: VM/a: spec.memory: must be a size\n');
  });

  it('says when drift was healed, and reported-only drift once rather than at every resync', () => {
    const { out, report } = capture();
    const reported = { ok: true, drift: [{ address: 'VM/a', paths: ['spec.memory'], healed: false }] };
    report.outcome(reported, { commit: 'c', files: [] });
    report.outcome(reported, { commit: 'c', files: [] });
    report.outcome({ ok: true, drift: [{ address: 'VM/b', paths: ['spec.description'], healed: true }] }, { commit: 'c', files: [] });
    expect(out).toEqual(['Drift on VM/a (spec.memory): reported only (policy drift: report)\n', 'Drift on VM/b (spec.description): healed\n']);
  });
});

describe('human log lines', () => {
  it('show time, level, message and fields, without pino bookkeeping', () => {
    const line = formatLogEntry({ level: 40, time: '2025-01-01T12:03:04.567Z', pid: 1, hostname: 'h', name: 'xops', msg: 'source sync failed', err: 'ECONNREFUSED', trigger: ['poll'] });
    expect(line).toBe('12:03:04 WARN  source sync failed err=ECONNREFUSED trigger=["poll"]');
  });
});
