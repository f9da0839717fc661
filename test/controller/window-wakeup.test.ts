import { describe, expect, it } from 'vitest';
import { ReconcileLoop } from '../../src/controller/loop.js';
import { StatusStore } from '../../src/controller/status.js';
import type { ReconcileOutcome } from '../../src/controller/types.js';
import type { MaintenanceWindow } from '../../src/model/desired.js';
import { applyAutomation } from '../../src/policy/automation.js';
import type { ManifestSource, SourceSnapshot } from '../../src/source/types.js';
import { ManualClock } from './manual-clock.js';
import { action, desired, plan, policy, rawDoc } from '../policy/helpers.js';

const HOUR = 3_600_000;

class FixedSource implements ManifestSource {
  readonly description = 'fixed';
  async sync(): Promise<SourceSnapshot> {
    return { commit: 'c1', files: [] };
  }
  async close(): Promise<void> {}
}

describe('held by a maintenance window', () => {
  it('the gate says when the window that releases the action opens, and so do the actions waiting on it', () => {
    const nightly: MaintenanceWindow = { schedule: '0 2 * * *', duration: 7200, allow: ['reboot'] };
    const reboot = action('VM/web01', { disruption: 'reboot', changes: [{ path: 'spec.memory', from: 1, to: 2, disruption: 'reboot' }] });
    const after = action('VMAppliance/shop', { disruption: 'none', dependsOn: [reboot.id] });
    const out = applyAutomation(
      plan([reboot, after]),
      desired([policy('nightly', { automation: { windows: [nightly] } })], [rawDoc('VM', 'web01'), rawDoc('VMAppliance', 'shop')]),
      { now: new Date('2025-03-05T12:00:00.000Z') },
    );
    expect(out.actions.map((a) => a.gate)).toEqual([
      expect.objectContaining({ state: 'held', releasesAt: '2025-03-06T02:00:00.000Z' }),
      expect.objectContaining({ state: 'held', releasesAt: '2025-03-06T02:00:00.000Z' }),
    ]);
  });

  it('the loop reconciles when the window opens, not at the next resync', async () => {
    const clock = new ManualClock();
    const opensAt = clock.now() + 3 * HOUR;
    const runs: number[] = [];
    const loop = new ReconcileLoop({
      source: new FixedSource(),
      status: new StatusStore('fixed'),
      clock,
      resyncIntervalMs: 10 * HOUR,
      reconcile: async (): Promise<ReconcileOutcome> => {
        runs.push(clock.now());
        const held = clock.now() < opensAt;
        return {
          ok: true,
          held: held
            ? [{ id: 'update:VM/web01', address: 'VM/web01', disruption: 'reboot', policy: 'Policy/nightly', reason: 'outside maintenance window', releasesAt: new Date(opensAt).toISOString() }]
            : [],
        };
      },
    });
    loop.start();
    await clock.advance(0);
    expect(runs).toHaveLength(1);
    await clock.advance(3 * HOUR - 1);
    expect(runs).toHaveLength(1);
    await clock.advance(2_000);
    expect(runs).toHaveLength(2);
    expect(runs[1]! - opensAt).toBeGreaterThanOrEqual(0);
    // Nothing is held any more: no further wake-up before the resync.
    await clock.advance(5 * HOUR);
    expect(runs).toHaveLength(2);
    await loop.stop();
  });

  it('a stopped loop leaves no window timer behind', async () => {
    const clock = new ManualClock();
    const loop = new ReconcileLoop({
      source: new FixedSource(),
      status: new StatusStore('fixed'),
      clock,
      reconcile: async () => ({
        ok: true,
        held: [{ id: 'a', address: 'VM/a', disruption: 'reboot', policy: 'p', reason: 'r', releasesAt: new Date(clock.now() + HOUR).toISOString() }],
      }),
    });
    loop.start();
    await clock.advance(0);
    expect(clock.pending()).toHaveLength(1);
    await loop.stop();
    expect(clock.pending()).toHaveLength(0);
  });
});

describe('a window opening judged by another clock', () => {
  it('already past by the loop\'s clock schedules no wake-up (it would spin)', async () => {
    const clock = new ManualClock();
    let runs = 0;
    const loop = new ReconcileLoop({
      source: new FixedSource(),
      status: new StatusStore('fixed'),
      clock,
      reconcile: async () => {
        runs++;
        return { ok: true, held: [{ id: 'a', address: 'VM/a', disruption: 'reboot', policy: 'p', reason: 'r', releasesAt: new Date(clock.now() - HOUR).toISOString() }] };
      },
    });
    loop.start();
    await clock.advance(10_000);
    expect(runs).toBe(1);
    expect(clock.pending()).toHaveLength(0);
    await loop.stop();
  });
});
