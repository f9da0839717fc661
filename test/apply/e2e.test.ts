import { afterEach, describe, expect, it } from 'vitest';
import { applyFolder, failures, planFolder, simWithClient } from './helpers.js';

let teardown: (() => Promise<void>) | undefined;
afterEach(async () => {
  await teardown?.();
  teardown = undefined;
});

describe('apply examples against the simulator', () => {
  it('converges: a second plan has no actions, and a second apply changes nothing', async () => {
    const env = await simWithClient();
    teardown = env.stop;
    const { plan, result } = await applyFolder(env.client, 'examples');
    expect(plan.actions.length).toBeGreaterThan(5);
    expect(failures(result)).toEqual([]);
    const again = await planFolder(env.client, 'examples');
    expect(again.plan.actions.map((a) => `${a.id} ${JSON.stringify(a.changes)}`)).toEqual([]);
  });
});
