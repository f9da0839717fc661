import { describe, expect, it } from 'vitest';
import { runJobs, type Job } from '../../src/apply/scheduler.js';

const job = (id: string, dependsOn: string[] = [], skip?: string): Job => ({ id, dependsOn, skip });
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('runJobs', () => {
  it('runs a job only after everything it depends on succeeded', async () => {
    const order: string[] = [];
    await runJobs([job('net'), job('vm', ['net', 'sr']), job('sr')], {
      concurrency: 8,
      run: async (j) => {
        await tick();
        order.push(j.id);
      },
    });
    expect(order.indexOf('vm')).toBeGreaterThan(order.indexOf('net'));
    expect(order.indexOf('vm')).toBeGreaterThan(order.indexOf('sr'));
  });

  it('once the signal aborts, the running job finishes and nothing else starts (shutdown mid-apply)', async () => {
    const stop = new AbortController();
    const ran: string[] = [];
    const out = await runJobs([job('a'), job('b'), job('c', ['a'])], {
      concurrency: 1,
      signal: stop.signal,
      run: async (j) => {
        stop.abort();
        await tick();
        ran.push(j.id);
      },
    });
    expect(ran).toEqual(['a']);
    expect(out.get('a')).toMatchObject({ state: 'succeeded' });
    expect(out.get('b')).toMatchObject({ state: 'skipped', interrupted: true });
    expect(out.get('c')).toMatchObject({ state: 'skipped', interrupted: true });
  });

  it('among ready jobs, the one earlier in the plan starts first, even if it became ready later', async () => {
    const order: string[] = [];
    await runJobs([job('a'), job('b', ['a']), job('c')], {
      concurrency: 1,
      run: async (j) => {
        order.push(j.id);
      },
    });
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('runs a plan of thousands of actions completely, each after its dependencies', async () => {
    // A network, an SR per 100 VMs, VMs on them, an appliance per 10 VMs: the shape of a big plan.
    const jobs: Job[] = [job('net')];
    for (let i = 0; i < 5000; i++) {
      if (i % 100 === 0) jobs.push(job(`sr${i / 100}`, ['net']));
      jobs.push(job(`vm${i}`, ['net', `sr${Math.floor(i / 100)}`]));
      if (i % 10 === 9) jobs.push(job(`app${i}`, Array.from({ length: 10 }, (_, k) => `vm${i - k}`)));
    }
    const done = new Set<string>();
    const late: string[] = [];
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const out = await runJobs(jobs, {
      concurrency: 8,
      run: async (j) => {
        if (!byId.get(j.id)!.dependsOn.every((d) => done.has(d))) late.push(j.id);
        await Promise.resolve();
        done.add(j.id);
      },
    });
    expect(late).toEqual([]);
    expect(done.size).toBe(jobs.length);
    expect([...out.values()].every((o) => o.state === 'succeeded')).toBe(true);
  });

  it('never runs more jobs at once than the bound', async () => {
    let running = 0;
    let peak = 0;
    await runJobs(Array.from({ length: 20 }, (_, i) => job(`j${i}`)), {
      concurrency: 3,
      run: async () => {
        peak = Math.max(peak, ++running);
        await tick();
        running--;
      },
    });
    expect(peak).toBe(3);
  });

  it('a failure skips its dependents (transitively) and names the cause, while independent jobs still run', async () => {
    const out = await runJobs([job('a'), job('b', ['a']), job('c', ['b']), job('d')], {
      concurrency: 2,
      run: async (j) => {
        if (j.id === 'a') throw new Error('boom');
      },
    });
    expect(out.get('a')).toMatchObject({ state: 'failed' });
    expect(out.get('b')).toMatchObject({ state: 'skipped', reason: 'depends on a, which failed', blockedBy: 'a' });
    expect(out.get('c')).toMatchObject({ state: 'skipped', reason: 'depends on b, which was not run' });
    expect(out.get('d')).toMatchObject({ state: 'succeeded' });
  });

  it('jobs marked skip (held by policy) never run, and neither do their dependents', async () => {
    const ran: string[] = [];
    const out = await runJobs([job('held', [], 'held by policy p'), job('after', ['held'])], {
      concurrency: 1,
      run: async (j) => void ran.push(j.id),
    });
    expect(ran).toEqual([]);
    expect(out.get('held')).toEqual({ state: 'skipped', reason: 'held by policy p' });
    expect(out.get('after')).toMatchObject({ state: 'skipped', blockedBy: 'held' });
  });

  it('a dependency cycle or an unknown dependency is reported instead of hanging', async () => {
    const out = await runJobs([job('x', ['y']), job('y', ['x']), job('z', ['nope'])], { concurrency: 4, run: async () => {} });
    expect(out.get('x')).toMatchObject({ state: 'skipped', reason: expect.stringContaining('cycle') });
    expect(out.get('z')).toMatchObject({ state: 'skipped', reason: 'depends on nope, which is not in the plan' });
  });
});
