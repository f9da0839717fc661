import { describe, expect, it } from 'vitest';
import type { ReconcileSummary } from '../../src/controller/status.js';
import type { ReconcileOutcome } from '../../src/controller/types.js';
import { MAX_DETAILS, NotificationTracker, notificationEvent } from '../../src/notify/events.js';

const C1 = '1'.repeat(40);
const C2 = '2'.repeat(40);

function run(result: ReconcileSummary['result'], outcome: ReconcileOutcome, commit = C1, error?: string): [ReconcileSummary, ReconcileOutcome] {
  return [
    {
      trigger: ['resync'],
      commit,
      startedAt: '2025-01-01T00:00:00Z',
      finishedAt: '2025-01-01T00:00:01Z',
      durationMs: 1000,
      result,
      ...(error ? { error } : {}),
      actions: { planned: 0, applied: 0, failed: 0, held: outcome.held?.length ?? 0 },
    },
    outcome,
  ];
}

const ok = (extra: Partial<ReconcileOutcome> = {}) => run('success', { ok: true, ...extra });
const failed = (error: string) => run('failure', { ok: false, error, applied: [{ id: 'a', address: 'VM/web', disruption: 'none', ok: false, error: 'VM_BAD_POWER_STATE' }] }, C1, error);
const drifted = (healed: boolean, address = 'Network/n1') => ({ drift: [{ address, paths: ['spec.mtu'], healed }] });
const held = (address = 'VM/db') => ({ held: [{ id: 'h', address, disruption: 'reboot' as const, policy: 'windows', reason: 'outside the maintenance window' }] });
const invalid = (commit: string) =>
  run('invalid', { ok: false, invalid: [{ severity: 'error', code: 'schema', message: 'spec.mtu: must be a whole number', location: { file: 'net.yaml', line: 6, col: 8 } }] }, commit);

/**
 * A level-based loop reconciles the same state over and over (resyncs, retries): each case is a run
 * of reconciles and the events an operator should see, no more.
 */
const cases: { why: string; runs: [ReconcileSummary, ReconcileOutcome][]; expected: string[] }[] = [
  { why: 'quiet successes say nothing', runs: [ok(), ok()], expected: [] },
  { why: 'a failure is told once while retries fail the same way, again when the error changes', runs: [failed('boom'), failed('boom'), failed('other')], expected: ['reconcile-failed', 'reconcile-failed'] },
  { why: 'a failure after a recovery is news again', runs: [failed('boom'), ok(), failed('boom')], expected: ['reconcile-failed', 'reconcile-failed'] },
  { why: 'an invalid commit is told once, however often it is looked at', runs: [invalid(C2), invalid(C2)], expected: ['commit-rejected'] },
  { why: 'reported drift is told when found, not on every resync that still sees it', runs: [ok(drifted(false)), ok(drifted(false)), ok(drifted(false, 'SR/s1'))], expected: ['drift-found', 'drift-found'] },
  { why: 'drift that returns after being gone is news', runs: [ok(drifted(false)), ok(), ok(drifted(false))], expected: ['drift-found', 'drift-found'] },
  { why: 'every heal is told', runs: [ok(drifted(true)), ok(drifted(true))], expected: ['drift-healed', 'drift-healed'] },
  { why: 'held actions are told when the held set changes', runs: [ok(held()), ok(held()), ok(held('VM/web'))], expected: ['actions-held', 'actions-held'] },
  { why: 'a failed reconcile between two identical held sets does not repeat them', runs: [ok(held()), failed('boom'), ok(held())], expected: ['actions-held', 'reconcile-failed'] },
];

describe('which reconciles are news', () => {
  it.each(cases)('$why', ({ runs, expected }) => {
    const tracker = new NotificationTracker();
    expect(runs.flatMap(([s, o]) => tracker.reconciled(s, o)).map((e) => e.type)).toEqual(expected);
  });

  it('bounds an event whatever the errors say: 20 details of at most 300 characters', () => {
    const e = notificationEvent({ type: 'reconcile-failed', summary: 's'.repeat(5000), details: Array.from({ length: 50 }, () => 'd'.repeat(5000)) }, 'id', new Date(0));
    expect(e.details).toHaveLength(MAX_DETAILS);
    expect(e.details.every((d) => d.length === 300 && d.endsWith('…'))).toBe(true);
    expect(e.summary).toHaveLength(600);
  });

  it('events carry what an operator needs to act', () => {
    const tracker = new NotificationTracker();
    const [rejected] = tracker.reconciled(...invalid(C2));
    expect(rejected).toEqual({
      type: 'commit-rejected',
      commit: C2,
      summary: 'commit 222222222222 is invalid (1 problem(s)); the last good commit stays in force',
      details: ['net.yaml:6:8: spec.mtu: must be a whole number'],
    });
    const [fail] = tracker.reconciled(...failed('1 action(s) failed'));
    expect(fail.details).toEqual(['VM/web: VM_BAD_POWER_STATE']);
    expect(tracker.leaseLost('me', 'other', 'lease taken by other')).toEqual({ type: 'lease-lost', summary: 'me lost the pool lease to other; standing by', details: ['lease taken by other'] });
  });
});
