/**
 * planChangesYielding lets the event loop run while it plans (a controller planning 10,000 VMs cold
 * must go on renewing its lease): it must give exactly the plan planChanges gives, memo or not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestsFor, markScaleVmsManaged } from '../../bench/plan.js';
import type { DesiredState } from '../../src/model/desired.js';
import type { ObservedState } from '../../src/model/observed.js';
import { takeSnapshot } from '../../src/observe/index.js';
import { planChanges, planChangesYielding } from '../../src/plan/index.js';
import { PlanMemo } from '../../src/plan/memo.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';

let sim: Simulator;
let observed: ObservedState;
let desired: DesiredState;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo', vms: 1200, multiHost: false });
  markScaleVmsManaged(sim);
  const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', transport: 'jsonrpc' });
  observed = await takeSnapshot(client);
  await client.close();
  // Every scale VM declared, 1% of them asking for more memory: more than a thousand manifests.
  desired = manifestsFor(observed);
});
afterAll(async () => {
  await sim?.stop();
});

describe('planning that lets the event loop run', () => {
  it('gives the plan planChanges gives, and other work runs while it plans', async () => {
    const now = new Date('2026-12-02T08:00:00Z');
    expect(desired.vms.length).toBeGreaterThan(1000);
    const expected = planChanges(desired, observed, { now });
    expect(expected.actions.length).toBeGreaterThan(0);
    // Queued before the plan starts: it runs only if the plan gives the event loop a turn.
    let ranMeanwhile = false;
    setImmediate(() => (ranMeanwhile = true));
    const got = await planChangesYielding(desired, observed, { now });
    expect(ranMeanwhile).toBe(true);
    expect(got).toEqual(expected);
  });

  it('gives the same plans through a shared memo, with a plan made between its turns', async () => {
    const now = new Date('2026-12-02T08:00:00Z');
    const memo = new PlanMemo();
    const expected = planChanges(desired, observed, { now });
    const running = planChangesYielding(desired, observed, { now, memo });
    // A plan API request answered while the reconcile's plan is half way: the same memo, the same state.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const between = planChanges(desired, observed, { now, memo });
    expect(await running).toEqual(expected);
    expect(between).toEqual(expected);
    expect(await planChangesYielding(desired, observed, { now, memo })).toEqual(expected);
  });
});
