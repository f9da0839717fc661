import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LeaseKeeper, PoolLease, parseLease } from '../../src/controller/lease.js';
import { systemClock, type Clock } from '../../src/controller/types.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import type { XapiCaller } from '../../src/xapi/caller.js';
import { XapiClient } from '../../src/xapi/client.js';

let sim: Simulator;
let client: XapiClient;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
});
afterAll(async () => {
  await client?.close();
  await sim?.stop();
});

/** A clock whose `now` tests set, with real timers (the settle wait). */
class SteppedClock implements Clock {
  t = Date.parse('2025-01-01T00:00:00Z');
  now = () => this.t;
  setTimeout = systemClock.setTimeout;
  clearTimeout = systemClock.clearTimeout;
}

let clock: SteppedClock;
beforeEach(async () => {
  clock = new SteppedClock();
  const [pool] = await client.call<string[]>('pool.get_all');
  await client.call('pool.remove_from_other_config', pool, 'xops.lease');
});

function lease(holder: string, caller: XapiCaller = client, takeoverSettleMs = 0): PoolLease {
  return new PoolLease({ caller, holder, ttlMs: 60_000, clock, takeoverSettleMs });
}

async function leaseValue(): Promise<string | undefined> {
  const [pool] = await client.call<string[]>('pool.get_all');
  return (await client.call<Record<string, string>>('pool.get_other_config', pool))['xops.lease'];
}

describe('PoolLease (against the simulator)', () => {
  it('lets one instance hold the pool and tells a second who holds it until when', async () => {
    const a = lease('a');
    const b = lease('b');
    expect(await a.acquire()).toEqual({ held: true, holder: 'a', since: '2025-01-01T00:00:00.000Z', expiresAt: '2025-01-01T00:01:00.000Z' });
    expect(await leaseValue()).toBe('a|2025-01-01T00:00:00.000Z|2025-01-01T00:01:00.000Z');
    expect(await b.acquire()).toMatchObject({ held: false, heldBy: 'a', since: '2025-01-01T00:00:00.000Z', expiresAt: '2025-01-01T00:01:00.000Z', reason: 'pool held by a' });
    expect(a.held()).toBe(true);
    expect(b.held()).toBe(false);
  });

  it('renewal pushes the expiry forward so a live holder is never taken over', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.acquire();
    clock.t += 50_000;
    // The expiry moves; when it was taken does not.
    expect(await a.renew()).toMatchObject({ held: true, since: '2025-01-01T00:00:00.000Z', expiresAt: '2025-01-01T00:01:50.000Z' });
    clock.t += 50_000; // past the first expiry, within the renewed one
    expect((await b.acquire()).held).toBe(false);
  });

  it('does not take the lease in the gap of its holder\'s renewal (remove, then add), only once it stays free', async () => {
    const a = lease('a');
    const b = lease('b', client, 150);
    await a.acquire();
    expect((await b.acquire()).held).toBe(false); // b has seen a's live lease
    // a's renewal, slowed down: its remove has landed, its add comes while b looks.
    const [pool] = await client.call<string[]>('pool.get_all');
    const renewing = (await leaseValue())!;
    await client.call('pool.remove_from_other_config', pool, 'xops.lease');
    const attempt = b.acquire();
    await new Promise((r) => setTimeout(r, 20));
    await client.call('pool.add_to_other_config', pool, 'xops.lease', renewing);
    expect(await attempt).toMatchObject({ held: false, heldBy: 'a' });
    expect(await leaseValue()).toBe(renewing);
    // A real release: the key stays gone past the settle time, and b takes it.
    await a.release();
    expect(await b.acquire()).toMatchObject({ held: true, holder: 'b' });
  });

  it('with confirmFree (fleet replicas), not even at the first look: a missing key is free only once it stays missing', async () => {
    const a = lease('a');
    await a.acquire();
    const b = new PoolLease({ caller: client, holder: 'b', ttlMs: 60_000, clock, takeoverSettleMs: 150, confirmFree: true });
    const [pool] = await client.call<string[]>('pool.get_all');
    const renewing = (await leaseValue())!;
    await client.call('pool.remove_from_other_config', pool, 'xops.lease');
    const attempt = b.acquire();
    await new Promise((r) => setTimeout(r, 20));
    await client.call('pool.add_to_other_config', pool, 'xops.lease', renewing);
    expect(await attempt).toMatchObject({ held: false, heldBy: 'a' });
    await a.release();
    expect(await b.acquire()).toMatchObject({ held: true, holder: 'b' });
  });

  it('lets another instance take over once the holder stops renewing (it died), and the old holder learns it lost', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.acquire();
    clock.t += 61_000;
    expect(a.held()).toBe(false); // by its own clock, a no longer acts either
    expect(await b.acquire()).toMatchObject({ held: true, holder: 'b' });
    expect(await a.renew()).toMatchObject({ held: false, heldBy: 'b', reason: 'lease taken by b' });
  });

  it('hands over at once on release', async () => {
    const a = lease('a');
    await a.acquire();
    await a.release();
    expect(await leaseValue()).toBeUndefined();
    expect((await lease('b').acquire()).held).toBe(true);
  });

  it('does not remove a lease it does not hold on release', async () => {
    await lease('a').acquire();
    await lease('b').release();
    expect(parseLease(await leaseValue())?.holder).toBe('a');
  });

  it('treats an unreadable lease value as expired', async () => {
    const [pool] = await client.call<string[]>('pool.get_all');
    await client.call('pool.add_to_other_config', pool, 'xops.lease', 'garbage');
    expect((await lease('a').acquire()).held).toBe(true);
  });

  it('of two instances taking over an expired lease at the same moment, the one whose add was overwritten backs off', async () => {
    await lease('dead').acquire();
    clock.t += 61_000;
    const b = lease('b');
    // c read the same stale value as b; its remove + add lands right after b's add, before b reads back.
    const c = lease('c');
    let raced = false;
    const racing: XapiCaller = {
      callAsync: (m, ...p) => client.callAsync(m, ...p),
      call: async <T>(method: string, ...params: unknown[]): Promise<T> => {
        const result = await client.call<T>(method, ...params);
        if (method === 'pool.add_to_other_config' && !raced) {
          raced = true;
          const [pool] = params as string[];
          await client.call('pool.remove_from_other_config', pool, 'xops.lease');
          await client.call('pool.add_to_other_config', pool, 'xops.lease', `c|${new Date(clock.t + 60_000).toISOString()}`);
        }
        return result;
      },
    };
    const racer = new PoolLease({ caller: racing, holder: 'b', ttlMs: 60_000, clock, takeoverSettleMs: 0 });
    expect(await racer.acquire()).toMatchObject({ held: false, heldBy: 'c' });
    expect(await c.renew()).toMatchObject({ held: true });
    expect(b.held()).toBe(false);
  });

  it('a renewal close to, but before, the expiry keeps holding throughout (a short TTL renews inside the settle time)', async () => {
    const seen: boolean[] = [];
    let a!: PoolLease;
    const watching: XapiCaller = {
      callAsync: (m, ...p) => client.callAsync(m, ...p),
      call: async <T>(method: string, ...params: unknown[]): Promise<T> => {
        seen.push(a.held());
        return client.call<T>(method, ...params);
      },
    };
    a = new PoolLease({ caller: watching, holder: 'a', ttlMs: 3_000, clock, takeoverSettleMs: 2_000 });
    expect((await a.acquire()).held).toBe(true);
    clock.t += 1_500; // 1.5 s left: less than the settle time, still ours
    seen.length = 0;
    expect(await a.renew()).toMatchObject({ held: true, expiresAt: new Date(clock.t + 3_000).toISOString() });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every(Boolean)).toBe(true);
  });

  it('a renewal that reaches the pool after its lease expired does not hold when a takeover raced it', async () => {
    // a stalled: it read its own, still valid value, and its remove reaches the pool only after the
    // expiry. Meanwhile b read the expired value; b's remove + add lands right after a's add.
    let bTook: Promise<unknown> | undefined;
    let bReadExpired!: () => void;
    const bRead = new Promise<void>((r) => (bReadExpired = r));
    let letBGoOn!: () => void;
    const bMayGoOn = new Promise<void>((r) => (letBGoOn = r));
    const pausingB: XapiCaller = {
      callAsync: (m, ...p) => client.callAsync(m, ...p),
      call: async <T>(method: string, ...params: unknown[]): Promise<T> => {
        if (method === 'pool.remove_from_other_config') {
          bReadExpired();
          await bMayGoOn;
        }
        return client.call<T>(method, ...params);
      },
    };
    const stalledB = new PoolLease({ caller: pausingB, holder: 'b', ttlMs: 60_000, clock, takeoverSettleMs: 0 });
    let stalled = false;
    const stallingA: XapiCaller = {
      callAsync: (m, ...p) => client.callAsync(m, ...p),
      call: async <T>(method: string, ...params: unknown[]): Promise<T> => {
        if (method === 'pool.remove_from_other_config' && !stalled) {
          stalled = true;
          clock.t += 61_000;
          bTook = stalledB.acquire();
          await bRead;
        }
        const result = await client.call<T>(method, ...params);
        if (method === 'pool.add_to_other_config' && bTook) {
          letBGoOn();
          await bTook;
        }
        return result;
      },
    };
    const a = new PoolLease({ caller: stallingA, holder: 'a', ttlMs: 60_000, clock, takeoverSettleMs: 0 });
    await lease('a').acquire();
    expect(await a.renew()).toMatchObject({ held: false, heldBy: 'b' });
    expect(a.held()).toBe(false);
    expect(stalledB.held()).toBe(true);
    expect(parseLease(await leaseValue())?.holder).toBe('b');
  });

  it('of many instances racing for an expired lease over the wire, exactly one ends up holding it', async () => {
    await lease('dead').acquire();
    clock.t += 61_000;
    const racers = ['r1', 'r2', 'r3', 'r4'].map((h) => lease(h, client, 150));
    const states = await Promise.all(racers.map((r) => r.acquire()));
    const winners = states.filter((s) => s.held);
    expect(winners).toHaveLength(1);
    expect(parseLease(await leaseValue())?.holder).toBe(winners[0].holder);
  });
});

describe('LeaseKeeper', () => {
  it('stands by while another instance holds the pool, takes over when that one releases, and releases on stop', async () => {
    const first = new LeaseKeeper(lease('first'), { clock });
    const acquired: string[] = [];
    const second = new LeaseKeeper(lease('second'), { clock, onAcquired: () => acquired.push('second') });
    await first.start();
    await second.start();
    expect(first.standbyReason()).toBeUndefined();
    expect(second.standbyReason()).toMatch(/pool held by first until 2025-01-01T00:01:00.000Z/);
    await first.stop();
    await second.tick();
    expect(acquired).toEqual(['second']);
    expect(second.standbyReason()).toBeUndefined();
    await second.stop();
    expect(await leaseValue()).toBeUndefined();
  });

  it('reports XAPI failures to its listener instead of throwing, and keeps trying', async () => {
    const errors: unknown[] = [];
    const failing: XapiCaller = { call: () => Promise.reject(new Error('ECONNRESET')), callAsync: () => Promise.reject(new Error('ECONNRESET')) };
    const keeper = new LeaseKeeper(new PoolLease({ caller: failing, holder: 'x', clock }), { clock, onUpdate: (_s, err) => err && errors.push(err) });
    await keeper.start();
    expect(errors).toHaveLength(1);
    expect(keeper.standbyReason()).toMatch(/not held/);
    await keeper.stop();
  });
});
