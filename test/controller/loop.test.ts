import { describe, expect, it } from 'vitest';
import { ReconcileLoop, type LoopOptions } from '../../src/controller/loop.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { StatusStore } from '../../src/controller/status.js';
import type { ReconcileInput, ReconcileOutcome } from '../../src/controller/types.js';
import type { ManifestSource, SourceSnapshot } from '../../src/source/types.js';
import { ManualClock, settle } from './manual-clock.js';

/** A source whose next sync returns `head`, or throws `failure` when set. */
class ScriptedSource implements ManifestSource {
  readonly description = 'scripted';
  head = 'c1';
  failure: Error | undefined;
  syncs = 0;
  async sync(): Promise<SourceSnapshot> {
    this.syncs++;
    if (this.failure) throw this.failure;
    return { commit: this.head, files: [{ path: 'a.yaml', content: Buffer.from(this.head) }] };
  }
  async close(): Promise<void> {}
}

type Reply = ReconcileOutcome | ((input: ReconcileInput) => Promise<ReconcileOutcome>);

function harness(replies: Record<string, Reply> = {}, options: Partial<LoopOptions> = {}) {
  const clock = new ManualClock();
  const source = new ScriptedSource();
  const status = new StatusStore(source.description);
  const metrics = new ControllerMetrics();
  const calls: { commit: string; at: number }[] = [];
  const loop = new ReconcileLoop({
    source,
    status,
    metrics,
    clock,
    random: () => 0.5,
    reconcile: async (input) => {
      calls.push({ commit: input.commit, at: clock.now() });
      const reply = replies[input.commit] ?? { ok: true };
      return typeof reply === 'function' ? reply(input) : reply;
    },
    ...options,
  });
  return { clock, source, status, metrics, calls, loop };
}

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}

const INVALID: ReconcileOutcome = { ok: false, invalid: [{ severity: 'error', code: 'schema', message: 'spec.memory: must be a size', location: { file: 'vm.yaml', line: 3, col: 5 }, address: 'VM/web' }] };

describe('ReconcileLoop', () => {
  it('runs one reconcile for requests made in the same tick', async () => {
    const h = harness();
    h.loop.start();
    h.loop.request('webhook');
    h.loop.request('xapi-event');
    await h.clock.advance(0);
    expect(h.calls).toHaveLength(1);
  });

  it('never runs two reconciles at once, and folds requests made during a run into exactly one more', async () => {
    const gate = deferred();
    let concurrent = 0;
    let maxConcurrent = 0;
    const h = harness({
      c1: async () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await gate.promise;
        concurrent--;
        return { ok: true };
      },
    });
    h.loop.start();
    await h.clock.advance(0);
    for (let i = 0; i < 5; i++) h.loop.request('xapi-event');
    await h.clock.advance(0);
    expect(h.calls).toHaveLength(1);
    gate.release();
    await h.clock.advance(0);
    await h.loop.idle();
    expect(h.calls).toHaveLength(2);
    expect(maxConcurrent).toBe(1);
  });

  it('backs off exponentially with jitter on failure, up to the cap, and resets after a success', async () => {
    let failing = true;
    const h = harness({ c1: async () => (failing ? { ok: false, error: 'pool unreachable' } : { ok: true }) }, { backoff: { initialMs: 1000, maxMs: 4000, factor: 2 } });
    h.loop.start();
    await h.clock.advance(20_000);
    const gaps = h.calls.slice(1).map((c, i) => c.at - h.calls[i].at);
    // random() = 0.5 gives 3/4 of each step: 1000, 2000, 4000, then capped at 4000.
    expect(gaps.slice(0, 5)).toEqual([750, 1500, 3000, 3000, 3000]);
    expect(h.status.snapshot().consecutiveFailures).toBeGreaterThan(3);
    failing = false;
    await h.clock.advance(3000);
    expect(h.status.snapshot().consecutiveFailures).toBe(0);
    failing = true;
    const before = h.calls.length;
    h.loop.request('xapi-event');
    await h.clock.advance(750);
    expect(h.calls.length - before).toBe(2); // the failing run, then a retry 750 ms later: back to the first step
  });

  it('keeps the last good commit in force when a new commit is invalid, and says why in the status', async () => {
    const h = harness({ c2: INVALID });
    h.loop.start();
    await h.clock.advance(0);
    h.source.head = 'c2';
    h.loop.request('webhook');
    await h.clock.advance(0);
    const status = h.status.snapshot();
    expect(status.commit).toBe('c1');
    expect(status.rejected).toMatchObject({ commit: 'c2', diagnostics: ['vm.yaml:3:5: VM/web: spec.memory: must be a size'] });
    expect(status.lastReconcile?.result).toBe('invalid');
    expect(h.loop.commitInForce).toBe('c1');

    // Drift on the pool is still reconciled, against the last good commit.
    h.loop.request('xapi-event');
    await h.clock.advance(0);
    expect(h.calls.map((c) => c.commit)).toEqual(['c1', 'c2', 'c1']);

    // Polling the same invalid commit does not retry it: it cannot get better.
    h.loop.request('poll');
    await h.clock.advance(60_000);
    expect(h.calls).toHaveLength(3);

    h.source.head = 'c3';
    h.loop.request('poll');
    await h.clock.advance(0);
    expect(h.calls.at(-1)?.commit).toBe('c3');
    expect(h.status.snapshot().rejected).toBeUndefined();
    expect(h.status.snapshot().commit).toBe('c3');
  });

  it('reports nothing to apply when the very first commit is invalid', async () => {
    const h = harness({ c1: INVALID });
    h.loop.start();
    await h.clock.advance(0);
    h.loop.request('resync');
    await h.clock.advance(0);
    expect(h.calls).toHaveLength(1);
    expect(h.status.snapshot().commit).toBeUndefined();
  });

  it('skips a poll that finds the commit already reconciled, but looks again on pool-side triggers', async () => {
    const h = harness({}, { pollIntervalMs: 60_000, resyncIntervalMs: 600_000 });
    h.loop.start();
    await h.clock.advance(5 * 60_000);
    expect(h.source.syncs).toBe(6); // startup + 5 polls
    expect(h.calls).toHaveLength(1);
    await h.clock.advance(5 * 60_000);
    expect(h.calls).toHaveLength(2); // the periodic resync
    h.loop.request('xapi-event');
    await h.clock.advance(0);
    expect(h.calls).toHaveLength(3);
  });

  it('keeps running on the last good commit when the source becomes unreachable', async () => {
    const h = harness({}, { pollIntervalMs: 60_000 });
    h.loop.start();
    await h.clock.advance(0);
    h.source.failure = new Error('fetch main failed: could not resolve host');
    await h.clock.advance(60_000);
    expect(h.status.snapshot().source.lastSyncError).toMatch(/could not resolve host/);
    expect(h.status.readiness().ready).toBe(false);
    h.loop.request('xapi-event');
    await h.clock.advance(0);
    expect(h.calls.map((c) => c.commit)).toEqual(['c1', 'c1']);
    expect(h.metrics.sourceSyncs.get({ result: 'failure' })).toBe(1);
  });

  it('retries with backoff when the source cannot be read at startup at all', async () => {
    const h = harness();
    h.source.failure = new Error('unreachable');
    h.loop.start();
    await h.clock.advance(0);
    expect(h.source.syncs).toBe(1);
    h.source.failure = undefined;
    await h.clock.advance(750);
    expect(h.calls.map((c) => c.commit)).toEqual(['c1']);
  });

  it('lets a webhook cut a backoff wait short', async () => {
    const h = harness({ c1: { ok: false, error: 'boom' } }, { backoff: { initialMs: 60_000, maxMs: 60_000, factor: 2 } });
    h.loop.start();
    await h.clock.advance(0);
    h.source.head = 'c2';
    h.loop.request('webhook');
    await h.clock.advance(0);
    expect(h.calls.map((c) => c.commit)).toEqual(['c1', 'c2']);
  });

  it('does not act while standing by (lease held elsewhere), and says so', async () => {
    let standby: string | undefined = 'pool held by other-host:42 until 2025-01-01T00:01:00Z';
    const h = harness({}, { standbyReason: () => standby });
    h.loop.start();
    await h.clock.advance(0);
    expect(h.calls).toHaveLength(0);
    expect(h.status.snapshot().standby).toMatch(/held by other-host/);
    standby = undefined;
    h.loop.request('startup');
    await h.clock.advance(0);
    expect(h.calls).toHaveLength(1);
    expect(h.status.snapshot().standby).toBeUndefined();
  });

  it('on stop, signals the reconcile in flight and waits for it to return', async () => {
    let sawAbort = false;
    const h = harness({
      c1: (input) =>
        new Promise((resolve) => {
          input.signal?.addEventListener('abort', () => {
            sawAbort = true;
            resolve({ ok: true });
          });
        }),
    });
    h.loop.start();
    await h.clock.advance(0);
    await h.loop.stop();
    expect(sawAbort).toBe(true);
    h.loop.request('webhook');
    await settle();
    expect(h.calls).toHaveLength(1);
  });

  it('counts reconciles, actions by disruption, held actions and drift in the metrics', async () => {
    const h = harness({
      c1: {
        ok: true,
        applied: [
          { id: 'update:VM/a', address: 'VM/a', disruption: 'none', ok: true },
          { id: 'update:VM/b', address: 'VM/b', disruption: 'reboot', ok: true },
        ],
        held: [{ id: 'update:VM/c', address: 'VM/c', disruption: 'downtime', policy: 'Policy/windows', reason: 'outside maintenance window' }],
        drift: [
          { address: 'VM/a', paths: ['spec.vcpus'], healed: true },
          { address: 'VM/d', paths: ['spec.memory'], healed: false },
        ],
      },
    });
    h.loop.start();
    await h.clock.advance(0);
    const text = h.metrics.registry.render();
    expect(text).toContain('xops_reconciles_total{result="success"} 1');
    expect(text).toContain('xops_actions_total{disruption="reboot",result="success"} 1');
    expect(text).toContain('xops_actions_held{disruption="downtime"} 1');
    expect(text).toContain('xops_drift_detected_total{outcome="reported"} 1');
    expect(text).toContain('xops_drifted_resources 1');
    expect(h.status.snapshot().resources).toEqual([
      { address: 'VM/a', state: 'synced' },
      { address: 'VM/b', state: 'synced' },
      { address: 'VM/c', state: 'held', reason: 'Policy/windows: outside maintenance window' },
      { address: 'VM/d', state: 'drifted', reason: 'changed outside xops: spec.memory' },
    ]);
  });
});
