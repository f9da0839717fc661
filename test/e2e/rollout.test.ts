/**
 * A halted rollout as the controller reports it: the reconcile's apply stops at the failing batch, and
 * `/status` (served over HTTP by the running controller) lists the later batches as held by the rollout's
 * Policy, with the reason. healthyAfter is 0 here, so no clock is involved; the pacing itself, and the
 * healthyAfter wait on a driven clock, are in test/automation/rollout.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalSource } from '../../src/source/local-source.js';
import {
  GiB,
  LOCAL_DEBOUNCE_MS,
  manifestFolder,
  policyManifest,
  resetWorld,
  startTestController,
  startWorld,
  status,
  stopWorld,
  until,
  vmManifest,
  vmRecord,
  writeFiles,
  type World,
} from './helpers.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => stopWorld(w));
afterEach(() => resetWorld(w));

describe('rollout in the controller', () => {
  it('a failure in batch one holds batches two and three, with the reason in /status', async () => {
    const names = ['roll-a', 'roll-b', 'roll-c'];
    const vms = (memory: string) => Object.fromEntries(names.map((n) => [`${n}.yaml`, vmManifest(n, { memory })]));
    const policy = policyManifest('roll', ['rollout: {maxUnavailable: 1, healthyAfter: 0}']);
    const dir = manifestFolder(w, { ...vms('1GiB'), 'policy.yaml': policy });
    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }), { backoff: { initialMs: 600_000, maxMs: 600_000 } });
    await until('first reconcile', () => status(c), (s) => s.lastReconcile?.result === 'success');
    await c.loop.idle();

    // VM.start fails for good (the first attempt and apply's two retries): roll-a, halted for its change, cannot
    // start again. The long backoff keeps the controller from trying again while the test looks.
    w.sim.faults.inject({ methods: 'VM.start', taskFailure: { count: 3, code: 'HOST_NOT_ENOUGH_FREE_MEMORY', params: ['2147483648', '0'] } });
    const before = c.status.snapshot().commit;
    writeFiles(dir, vms('2GiB'));
    const s = await until('edit reconciled', () => status(c), (x) => x.commit !== before && x.lastReconcile?.commit === x.commit);
    await c.loop.idle();

    expect(s.lastReconcile?.result).not.toBe('success');
    const byAddress = Object.fromEntries(s.resources.map((r) => [r.address, r]));
    expect(byAddress['VM/roll-a']?.state).toBe('failed');
    for (const n of ['roll-b', 'roll-c']) {
      expect(byAddress[`VM/${n}`]).toMatchObject({ state: 'held', reason: expect.stringContaining('roll: rollout of policy roll halted at batch 1 of 3: VM/roll-a failed') });
      expect((await vmRecord(w, n))?.rec['memory_static_max']).toBe(GiB);
    }
    expect(s.held.map((h) => [h.address, h.policy])).toEqual([['VM/roll-b', 'roll'], ['VM/roll-c', 'roll']]);
  });
});
