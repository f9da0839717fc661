import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';

// The simulator's call log: who (which session) called what, for tests that check which client acted
// on a pool when. Off until started; login parameters (the password) are never kept.
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'empty' });
});
afterAll(() => sim.stop());

describe('the simulator call log', () => {
  it('records each call with its session, parameters and outcome once started, and nothing before', async () => {
    const before = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
    await before.call('pool.get_all');
    expect(sim.calls.entries()).toEqual([]);

    sim.calls.start();
    const one = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
    const two = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
    try {
      const [pool] = await one.call<string[]>('pool.get_all');
      await one.call('pool.add_to_other_config', pool, 'k', 'from-one');
      await expect(two.call('pool.add_to_other_config', pool, 'k', 'from-two')).rejects.toThrow(/MAP_DUPLICATE_KEY/);
      const log = sim.calls.entries();
      const adds = log.filter((c) => c.method === 'pool.add_to_other_config');
      expect(adds.map((c) => [c.args, c.ok, c.error ?? null])).toEqual([
        [[pool, 'k', 'from-one'], true, null],
        [[pool, 'k', 'from-two'], false, 'MAP_DUPLICATE_KEY'],
      ]);
      // Two clients, two sessions: each call is told apart by the session it came with.
      expect(adds[0]!.session).toMatch(/^OpaqueRef:/);
      expect(adds[1]!.session).not.toBe(adds[0]!.session);
      expect(log.filter((c) => c.method === 'pool.get_all').map((c) => c.session)).toEqual([adds[0]!.session]);
      const logins = log.filter((c) => c.method.startsWith('session.login'));
      expect(logins.length).toBeGreaterThanOrEqual(2);
      expect(JSON.stringify(logins)).not.toContain('xops');
      expect(log.map((c) => c.seq)).toEqual(log.map((_, i) => i + 1));
    } finally {
      await Promise.all([before.close(), one.close(), two.close()]);
    }
  });

  it('keeps at most its limit, dropping the oldest and counting them', async () => {
    sim.calls.clear();
    sim.calls.start(3);
    const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
    try {
      for (let i = 0; i < 5; i++) await client.call('pool.get_all');
      expect(sim.calls.entries()).toHaveLength(3);
      expect(sim.calls.dropped).toBeGreaterThanOrEqual(3);
      sim.calls.stop();
      await client.call('pool.get_all');
      expect(sim.calls.entries().at(-1)!.seq).toBe(sim.calls.entries()[0]!.seq + 2);
    } finally {
      await client.close();
    }
  });
});
