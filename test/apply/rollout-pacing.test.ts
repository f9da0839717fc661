/** Apply's side of a rollout: one barrier per batch, so a large rollout adds edges linear in its size. */
import { describe, expect, it } from 'vitest';
import type { Action } from '../../src/model/plan.js';
import { RolloutHalts, rolloutPacing } from '../../src/apply/rollout.js';
import { action } from '../policy/helpers.js';

const paced = (name: string, batch: number, batches: number, policy = 'web'): Action => ({
  ...action(`VM/${name}`, { disruption: 'reboot' }),
  rollout: { policy, batch, batches, maxUnavailable: 2, healthyAfter: 0 },
});

describe('rolloutPacing', () => {
  it('makes batch k wait for one barrier over batch k-1, per rollout', () => {
    const actions = [paced('a', 1, 2), paced('b', 1, 2), paced('c', 2, 2), paced('x', 1, 2, 'db'), paced('y', 2, 2, 'db'), action('VM/other')];
    const { barriers, waitsFor } = rolloutPacing(actions);
    expect(barriers.map((b) => [b.id, b.dependsOn])).toEqual([
      ['rollout-barrier:web:batch-1', ['update:VM/a', 'update:VM/b']],
      ['rollout-barrier:web:batch-2', ['update:VM/c']],
      ['rollout-barrier:db:batch-1', ['update:VM/x']],
      ['rollout-barrier:db:batch-2', ['update:VM/y']],
    ]);
    expect(Object.fromEntries(waitsFor)).toEqual({ 'update:VM/c': 'rollout-barrier:web:batch-1', 'update:VM/y': 'rollout-barrier:db:batch-1' });
  });

  it('stays linear for 10,000 VMs in two batches of 5,000', () => {
    const actions = Array.from({ length: 10_000 }, (_, i) => paced(`vm${i}`, i < 5000 ? 1 : 2, 2));
    const { barriers, waitsFor } = rolloutPacing(actions);
    expect(barriers.reduce((n, b) => n + b.dependsOn.length, 0) + waitsFor.size).toBe(15_000);
  });

  it('names the first failure of a rollout as its halt, for every later batch', () => {
    const halts = new RolloutHalts();
    const [a, b, c] = [paced('a', 1, 3), paced('b', 1, 3), paced('c', 3, 3)];
    halts.failed(a, 'failed: VM.start: HOST_NOT_ENOUGH_FREE_MEMORY');
    halts.failed(b, 'failed: something later');
    expect(halts.reasonFor(c)).toBe('rollout of policy web halted at batch 1 of 3: VM/a failed: VM.start: HOST_NOT_ENOUGH_FREE_MEMORY; batch 3 of 3 is held until the next reconcile');
    expect(halts.reasonFor(paced('z', 2, 2, 'db'))).toBeUndefined();
  });
});
