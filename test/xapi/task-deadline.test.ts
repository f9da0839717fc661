import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XapiFailure, startSimulator, type Simulator } from '../../src/sim/index.js';
import { XapiError } from '../../src/xapi/caller.js';
import { XapiClient, type XapiClientOptions } from '../../src/xapi/client.js';
import { XapiTaskTimeoutError } from '../../src/xapi/errors.js';
import { DEFAULT_TASK_DEADLINE_MS, taskDeadlineMs } from '../../src/xapi/task-deadlines.js';

let sim: Simulator;
const clients: XapiClient[] = [];
// Releases the handlers that simulate a task that never finishes, so the simulator can stop.
const releases: (() => void)[] = [];

async function connect(opts: Partial<XapiClientOptions> = {}): Promise<XapiClient> {
  const c = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', ...opts });
  clients.push(c);
  return c;
}

/** Makes every `Async.<method>` task stay pending until the test ends. */
function neverFinish(method: string): void {
  sim.setHandler(method, () => new Promise((resolve) => releases.push(() => resolve(undefined))));
}

function vmRef(name = 'backup-appliance'): string {
  return sim.db.byName('VM', name).ref;
}

beforeEach(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const r of releases.splice(0)) r();
  await sim.stop();
});

describe('task deadlines: the table', () => {
  it('gives a disk copy far longer than a database edit, and lets options override both', () => {
    expect(taskDeadlineMs('VM.copy')).toBeGreaterThan(taskDeadlineMs('VM.clone'));
    expect(taskDeadlineMs('VM.clone')).toBeGreaterThan(taskDeadlineMs('VM.add_tags'));
    expect(taskDeadlineMs('Async.VM.copy')).toBe(taskDeadlineMs('VM.copy'));
    expect(taskDeadlineMs('VM.set_name_label', { 'VM.set_name_label': 1234 })).toBe(1234);
    expect(taskDeadlineMs('host.call_plugin')).toBe(DEFAULT_TASK_DEADLINE_MS);
    expect(taskDeadlineMs('host.call_plugin', { '*': 42 })).toBe(42);
    // The default only applies where the table has no row: a configured '*' does not shorten copies.
    expect(taskDeadlineMs('VM.copy', { '*': 42 })).toBe(taskDeadlineMs('VM.copy'));
  });
});

describe('task deadlines: a task that never finishes', () => {
  it('is cancelled and destroyed at its deadline, and the call fails naming the method, the task and the deadline', async () => {
    neverFinish('VM.clone');
    const client = await connect({ taskDeadlines: { 'VM.clone': 300 } });
    expect(client.taskDeadlineFor('VM.clone')).toBe(300);
    const err = await client.callAsync('VM.clone', vmRef(), 'stuck').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiTaskTimeoutError);
    const e = err as XapiTaskTimeoutError;
    expect(e).toMatchObject({ method: 'VM.clone', deadlineMs: 300, cancelled: true });
    expect(e.task).toMatch(/^OpaqueRef:/);
    expect(e.message).toBe(`VM.clone: task ${e.task} did not finish within 300 ms; cancelled it; its outcome is unknown`);
    expect(sim.stats.get('task.cancel')).toBe(1);
    expect(sim.stats.get('task.destroy')).toBe(1);
    expect([...sim.db.all('task')]).toHaveLength(0);
  });

  it('takes a per-call deadline through runAsync, over XML-RPC too', async () => {
    neverFinish('VM.clone');
    const client = await connect({ transport: 'xmlrpc' });
    const err = await client.runAsync('VM.clone', [vmRef(), 'stuck'], { deadlineMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiTaskTimeoutError);
    expect((err as XapiTaskTimeoutError).deadlineMs).toBe(200);
    expect([...sim.db.all('task')]).toHaveLength(0);
  });

  it('says so when the pool refuses the cancel, and still destroys the task', async () => {
    neverFinish('VM.clone');
    sim.setHandler('task.cancel', () => {
      throw new XapiFailure('OPERATION_NOT_ALLOWED', 'task cannot be cancelled');
    });
    const client = await connect();
    const err = await client.runAsync('VM.clone', [vmRef(), 'stuck'], { deadlineMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiTaskTimeoutError);
    expect((err as XapiTaskTimeoutError).cancelled).toBe(false);
    expect((err as Error).message).toMatch(/could not cancel it/);
    expect([...sim.db.all('task')]).toHaveLength(0);
  });

  it('leaves tasks that finish in time alone: a deadline changes nothing for them', async () => {
    const client = await connect({ taskDeadlines: { '*': 60_000 } });
    const ref = await client.runAsync<string>('VM.clone', [vmRef(), 'quick'], { deadlineMs: 60_000 });
    expect(sim.db.record(ref)['name_label']).toBe('quick');
    expect(sim.stats.get('task.cancel')).toBe(0);
  });
});

describe('waitForTask: tasks this client did not start', () => {
  it('gives up at a short deadline without cancelling or destroying the task', async () => {
    const client = await connect();
    const task = await client.call<string>('task.create', 'Async.VM.copy', 'left by an earlier apply');
    const err = await client.waitForTask(task, { deadlineMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiTaskTimeoutError);
    expect(err).toMatchObject({ task, deadlineMs: 150, cancelled: undefined });
    expect(sim.db.record(task)['status']).toBe('pending');
    expect(sim.stats.get('task.cancel')).toBe(0);
  });

  it('reports how the task ended when it ends in time', async () => {
    const client = await connect();
    const task = await client.call<string>('task.create', 'Async.VM.copy', '');
    // The task ends once waitForTask has seen it pending, so the event wait is what reports it.
    client.on('call', (c: { method: string }) => {
      if (c.method === 'task.get_record') sim.db.update(task, { status: 'failure', error_info: ['SR_FULL', '10', '5'] });
    });
    const outcome = client.waitForTask(task, { deadlineMs: 60_000 });
    expect(await outcome).toEqual({ status: 'failure', errorInfo: ['SR_FULL', '10', '5'] });
  });

  it('rejects with HANDLE_INVALID when the task is destroyed while pending', async () => {
    const client = await connect();
    const task = await client.call<string>('task.create', 'Async.VM.copy', '');
    // Another pending task keeps the task table non-empty, so the watcher's first event.from returns
    // at once whether or not it saw `task` before it was destroyed: either way it must not hang.
    await client.call<string>('task.create', 'Async.VM.clone', 'still running');
    const outcome = client.waitForTask(task, { deadlineMs: 60_000 }).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    await client.call('task.destroy', task);
    const err = await outcome;
    expect(err).toBeInstanceOf(XapiError);
    expect((err as XapiError).code).toBe('HANDLE_INVALID');
  });

  it('rejects with HANDLE_INVALID at once for a task that does not exist', async () => {
    const client = await connect();
    const err = await client.waitForTask('OpaqueRef:no-such-task', { deadlineMs: 60_000 }).catch((e: unknown) => e);
    expect((err as XapiError).code).toBe('HANDLE_INVALID');
  });
});
