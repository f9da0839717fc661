import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login, post, waitTask, xmlOk, xmlRequest } from './helpers.js';

let sim: Simulator;
let s: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  s = await login(sim);
});
afterAll(() => sim.stop());

describe('event.from', () => {
  it('starts with one add per object, full snapshots, valid_ref_counts and a %020d,%020d token', async () => {
    const r = await call('event.from', ['vm', 'SR'], '', 0);
    expect(r.token).toMatch(/^\d{20},\d{20}$/);
    const vms = r.events.filter((e: any) => e.class === 'vm');
    expect(vms).toHaveLength(sim.db.count('VM'));
    expect(r.events.filter((e: any) => e.class === 'sr')).toHaveLength(sim.db.count('SR'));
    expect(r.events.every((e: any) => e.operation === 'add' && typeof e.id === 'string')).toBe(true);
    expect(vms[0].snapshot).toEqual(await call('VM.get_record', vms[0].ref));
    // Counts cover every table, not only the subscribed ones.
    expect(r.valid_ref_counts.vm).toBe(sim.db.count('VM'));
    expect(r.valid_ref_counts.host).toBe(3);
    expect(r.valid_ref_counts.task).toBe(0);
  });

  it('blocks until a change, including one made directly in the database', async () => {
    const { token } = await call('event.from', ['vm'], '', 0);
    const web = sim.db.byName('VM', 'legacy-web01').ref;
    const t0 = Date.now();
    const pending = call('event.from', ['vm'], token, 10);
    setTimeout(() => sim.db.set(web, 'name_description', 'changed out of band'), 100);
    const r = await pending;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ class: 'vm', operation: 'mod', ref: web });
    expect(r.events[0].snapshot.name_description).toBe('changed out of band');
    expect(r.token > token).toBe(true);
  });

  it('returns an empty batch with a fresh token only when the timeout passes', async () => {
    const { token } = await call('event.from', ['pool'], '', 0);
    const t0 = Date.now();
    // A change to a class nobody subscribed to must not wake the caller.
    setTimeout(() => sim.db.set(sim.db.byName('SR', 'pool-nfs').ref, 'name_description', 'x'), 50);
    const r = await call('event.from', ['pool'], token, 0.3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(r.events).toEqual([]);
    expect(r.token).toMatch(/^\d{20},\d{20}$/);
  });

  it('collapses changes: created-then-deleted objects vanish, deletions of older ones are del without snapshot', async () => {
    const { token } = await call('event.from', ['network'], '', 0);
    const gone = await call('network.create', { name_label: 'ephemeral', other_config: {} });
    await call('network.destroy', gone);
    const kept = await call('network.create', { name_label: 'kept', other_config: {} });
    await call('network.set_name_description', kept, 'edited');
    const r = await call('event.from', ['network'], token, 1);
    expect(r.events.map((e: any) => [e.operation, e.ref])).toEqual([['add', kept]]);
    expect(r.events[0].snapshot.name_description).toBe('edited');
    await call('network.destroy', kept);
    const r2 = await call('event.from', ['network'], r.token, 1);
    expect(r2.events).toEqual([{ id: expect.any(String), timestamp: expect.any(String), class: 'network', operation: 'del', ref: kept }]);
  });

  it('keeps relations in step and reports the other side as modified', async () => {
    const { token } = await call('event.from', ['*'], '', 0);
    const vm = await call('VM.clone', sim.db.byName('VM', 'Debian Bookworm 12').ref, 'ev01');
    await call('VM.provision', vm);
    const r = await call('event.from', ['*'], token, 1);
    const kinds = new Set(r.events.map((e: any) => `${e.class}:${e.operation}`));
    for (const k of ['vm:add', 'vbd:add', 'vdi:add', 'sr:mod', 'vm_metrics:add']) expect(kinds).toContain(k);
    const vmEvent = r.events.find((e: any) => e.ref === vm);
    expect(vmEvent.snapshot.VBDs).toHaveLength(1);
  });

  it('supports per-object subscriptions and event.inject', async () => {
    const web = sim.db.byName('VM', 'legacy-web01').ref;
    const other = sim.db.byName('VM', 'backup-appliance').ref;
    const { token } = await call('event.from', [`vm/${web}`], '', 0);
    const pending = call('event.from', [`vm/${web}`], token, 5);
    sim.db.set(other, 'name_description', 'not watched');
    const injected = await call('event.inject', 'VM', web);
    expect(injected).toMatch(/^\d{20},\d{20}$/);
    const r = await pending;
    expect(r.events.map((e: any) => e.ref)).toEqual([web]);
    expect((await json(sim.url, 'event.inject', [s, 'VM', 'OpaqueRef:nope'])).error.message).toBe('HANDLE_INVALID');
  });

  it('rejects malformed tokens and subscriptions', async () => {
    expect((await json(sim.url, 'event.from', [s, ['vm'], 'garbage', 0])).error).toMatchObject({ message: 'EVENT_FROM_TOKEN_PARSE_FAILURE', data: ['garbage'] });
    expect((await json(sim.url, 'event.from', [s, ['vm/a/b'], '', 0])).error.message).toBe('EVENT_SUBSCRIPTION_PARSE_FAILURE');
  });

  it('writes valid_ref_counts as <i4> and the timeout as a double over XML-RPC', async () => {
    const r = await post(sim.url, xmlRequest('event.from', [s, ['pool'], '', 0.5]), 'text/xml');
    expect(r.text).toMatch(/<member><name>pool<\/name><value><i4>1<\/i4><\/value><\/member>/);
    expect(r.text).toMatch(/<member><name>id<\/name><value>\d+<\/value><\/member>/);
  });
});

describe('Async calls and tasks', () => {
  it('returns a task that ends in success with an XML-RPC value fragment as result', async () => {
    const task = await call('Async.VM.clone', sim.db.byName('VM', 'Rocky Linux 9').ref, 'async01');
    expect(task).toMatch(/^OpaqueRef:/);
    const rec = await waitTask(sim.url, s, task);
    expect(rec.status).toBe('success');
    expect(rec.progress).toBe(1);
    expect(rec.result).toMatch(/^<value>OpaqueRef:[0-9a-f-]+<\/value>$/);
    expect(rec.name_label).toBe('Async.VM.clone');
    expect(rec.finished).not.toBe('19700101T00:00:00Z');
    const vm = rec.result.slice(7, -8);
    const start = await waitTask(sim.url, s, await call('Async.VM.provision', vm));
    expect(start.result).toBe('<value></value>');
    await call('task.destroy', task);
    expect((await json(sim.url, 'task.get_record', [s, task])).error.message).toBe('HANDLE_INVALID');
  });

  it('ends in failure with error_info when the operation fails', async () => {
    const web = sim.db.byName('VM', 'legacy-web01').ref;
    const rec = await waitTask(sim.url, s, await call('Async.VM.start', web, false, false));
    expect(rec.status).toBe('failure');
    expect(rec.error_info).toEqual(['VM_BAD_POWER_STATE', web, 'halted', 'running']);
  });

  it('checks arity and session before creating a task; refuses Async of sync-only messages', async () => {
    expect((await json(sim.url, 'Async.VM.start', [s, 'x'])).error.message).toBe('MESSAGE_PARAMETER_COUNT_MISMATCH');
    expect((await json(sim.url, 'Async.VM.start', ['OpaqueRef:bad', 'x', false, false])).error.message).toBe('SESSION_INVALID');
    const r = await json(sim.url, 'Async.VM.get_record', [s, sim.db.byName('VM', 'legacy-web01').ref]);
    expect(r.error.message).toBe('Fault');
  });

  it('lets a pending task be cancelled', async () => {
    const task = await call('task.create', 'manual', 'a client-side task');
    await call('task.cancel', task);
    const rec = await call('task.get_record', task);
    expect(rec.status).toBe('cancelled');
    expect(rec.error_info).toEqual(['TASK_CANCELLED', task]);
    expect((await json(sim.url, 'task.cancel', [s, task])).error.message).toBe('OPERATION_NOT_ALLOWED');
  });

  it('reports tasks through events, as clients waiting on task/<ref> expect', async () => {
    const { token } = await xmlOk(sim.url, 'event.from', s, ['task'], '', 0);
    const task = await call('Async.VM.clone', sim.db.byName('VM', 'Rocky Linux 9').ref, 'async02');
    let tok = token;
    for (let i = 0; i < 10; i++) {
      const r = await call('event.from', [`task/${task}`], tok, 2);
      tok = r.token;
      const done = r.events.find((e: any) => e.snapshot?.status === 'success');
      if (done) return;
    }
    throw new Error('no success event for the task');
  });
});
