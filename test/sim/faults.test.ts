import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login, post, waitTask, xml, xmlRequest } from './helpers.js';

let sim: Simulator;
let s: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);
const errOf = async (method: string, ...params: unknown[]): Promise<string> => (await json(sim.url, method, [s, ...params])).error?.message;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  s = await login(sim);
});
afterEach(() => {
  sim.faults.clear();
  if (sim.db.record(sim.poolRef).master !== sim.hostRefs[0]) sim.failover(0);
});
afterAll(() => sim.stop());

describe('faults', () => {
  it('adds latency to matching calls only', async () => {
    sim.faults.latency(150, 'VM.*');
    let t0 = Date.now();
    await call('VM.get_all');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    t0 = Date.now();
    await call('SR.get_all');
    expect(Date.now() - t0).toBeLessThan(140);
  });

  it('fails the next N calls with SESSION_INVALID, or invalidates every session', async () => {
    sim.faults.inject({ sessionInvalid: 2 });
    expect(await errOf('pool.get_all')).toBe('SESSION_INVALID');
    expect(await errOf('pool.get_all')).toBe('SESSION_INVALID');
    expect(await call('pool.get_all')).toEqual([sim.poolRef]);
    sim.faults.inject({ sessionInvalid: 'all' });
    expect(await errOf('pool.get_all')).toBe('SESSION_INVALID');
    s = await login(sim);
  });

  it('moves the master on failover; other hosts answer HOST_IS_SLAVE with its address', async () => {
    expect(sim.hostUrls).toEqual([1, 2, 3].map((i) => `http://127.0.0.${i}:${sim.port}`));
    const onHost2 = await xml(sim.hostUrls[1]!, 'session.login_with_password', 'root', 'xops');
    expect(onHost2.ErrorDescription).toEqual(['HOST_IS_SLAVE', '127.0.0.1']);
    sim.failover(1);
    expect(sim.db.record(sim.poolRef).master).toBe(sim.hostRefs[1]);
    expect((await xml(sim.url, 'pool.get_all', s)).ErrorDescription).toEqual(['HOST_IS_SLAVE', '127.0.0.2']);
    const s2 = (await xml(sim.hostUrls[1]!, 'session.login_with_password', 'root', 'xops')).Value;
    expect((await xml(sim.hostUrls[1]!, 'pool.get_all', s2)).Value).toEqual([sim.poolRef]);
  });

  it('fails the next event.from with EVENTS_LOST', async () => {
    sim.faults.inject({ eventsLost: 1 });
    expect(await errOf('event.from', ['vm'], '', 0)).toBe('EVENTS_LOST');
    expect((await call('event.from', ['vm'], '', 0)).events.length).toBeGreaterThan(0);
  });

  it('fails the next N matching calls with TOO_MANY_PENDING_TASKS', async () => {
    sim.faults.inject({ tooManyPendingTasks: 1, methods: 'Async.*' });
    expect(await call('VM.get_all')).toBeInstanceOf(Array);
    const tpl = sim.db.byName('VM', 'Rocky Linux 9').ref;
    expect(await errOf('Async.VM.clone', tpl, 'x')).toBe('TOO_MANY_PENDING_TASKS');
    expect(await call('Async.VM.clone', tpl, 'x')).toMatch(/^OpaqueRef:/);
  });

  it('ends the next Async task in failure with the given code, without running it', async () => {
    sim.faults.inject({ taskFailure: { count: 1, code: 'SR_BACKEND_FAILURE_44', params: ['', 'no space', ''] } });
    const tpl = sim.db.byName('VM', 'Rocky Linux 9').ref;
    const before = sim.db.count('VM');
    const rec = await waitTask(sim.url, s, await call('Async.VM.clone', tpl, 'doomed'));
    expect(rec.status).toBe('failure');
    expect(rec.error_info).toEqual(['SR_BACKEND_FAILURE_44', '', 'no space', '']);
    expect(sim.db.count('VM')).toBe(before);
  });

  it('resets the connection of the next write, before or after executing it', async () => {
    sim.faults.inject({ connectionReset: { count: 1, writesOnly: true } });
    // Reads pass untouched while a writes-only reset is pending.
    expect(await call('network.get_all')).toBeInstanceOf(Array);
    await expect(call('network.create', { name_label: 'lost', other_config: {} })).rejects.toThrow();
    expect(sim.db.findByName('network', 'lost')).toEqual([]);
    sim.faults.inject({ connectionReset: { count: 1, afterExecute: true } });
    await expect(call('network.create', { name_label: 'done-but-unacknowledged', other_config: {} })).rejects.toThrow();
    expect(sim.db.findByName('network', 'done-but-unacknowledged')).toHaveLength(1);
    expect(await call('network.get_all')).toBeInstanceOf(Array);
  });

  it('truncates the next reply', async () => {
    sim.faults.inject({ truncatedReply: 1, methods: 'VM.get_all_records' });
    await expect(post(sim.url, xmlRequest('VM.get_all_records', [s]), 'text/xml')).rejects.toThrow();
    const ok = await post(sim.url, xmlRequest('VM.get_all_records', [s]), 'text/xml');
    expect(ok.text).toContain('</methodResponse>');
  });

  it('is driven over HTTP by the /_sim control endpoint', async () => {
    const add = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify({ methods: 'SR.*', tooManyPendingTasks: 1 }) });
    expect(((await add.json()) as any).rules).toEqual([{ kind: 'tooManyPendingTasks', methods: 'SR.*', remaining: 1 }]);
    expect(await errOf('SR.get_all')).toBe('TOO_MANY_PENDING_TASKS');
    await fetch(`${sim.url}/_sim/stats/reset`, { method: 'POST' });
    await call('VM.get_all');
    await call('VM.get_all');
    const stats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as any;
    expect(stats.calls['VM.get_all']).toBe(2);
    expect(sim.stats.get('VM.get_all')).toBe(2);
    await fetch(`${sim.url}/_sim/failover`, { method: 'POST', body: JSON.stringify({ host: 2 }) });
    expect(sim.db.record(sim.poolRef).master).toBe(sim.hostRefs[2]);
    await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify({ sessionInvalid: 1 }) });
    await fetch(`${sim.url}/_sim/faults`, { method: 'DELETE' });
    expect(((await (await fetch(`${sim.url}/_sim/faults`)).json()) as any).rules).toEqual([]);
  });
});
