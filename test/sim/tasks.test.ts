import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login, waitTask, xml, xmlOk } from './helpers.js';

// Tasks that never complete, and task.cancel on them.
//
// What cancelling an Async.VM.clone leaves behind, per xen-api (ocaml/xapi/xapi_vm_clone.ml, `clone` and
// `safe_clone_disks`): VM.clone marks its task cancellable (ocaml/xapi/xapi_vm.ml, `clone` calls
// TaskHelper.set_cancellable), checks for cancellation before cloning each disk (TaskHelper.exn_if_cancelling),
// deletes the disks cloned so far when that raises (`delete_disks`), and creates the VM record only after every disk
// is cloned. So a clone cancelled while it works leaves neither a VM nor a VDI, and the task ends `cancelled` with
// error_info `[TASK_CANCELLED, <task ref>]` (ocaml/xapi/taskHelper.ml, `failed`: status `cancelled` when the code is
// TASK_CANCELLED; `raise_cancelled` puts the task's ref in the params). A task past its last cancellation point is
// not cancellable: allowed_operations is empty and task.cancel answers OPERATION_NOT_ALLOWED (the contract in
// /work/shared/xapi/PROTOCOL.md, section on tasks).

let sim: Simulator;
let s: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);
const template = (): string => sim.db.byName('VM', 'Rocky Linux 9').ref;
const counts = (): { vms: number; vdis: number; vbds: number } => ({ vms: sim.db.count('VM'), vdis: sim.db.count('VDI'), vbds: sim.db.count('VBD') });

/** Runs one ordinary Async call (an SR scan, which changes nothing) to completion: tasks queued before it had their turn. */
async function drainTaskQueue(): Promise<void> {
  const scan = await call('Async.SR.scan', sim.db.byName('SR', 'pool-nfs').ref);
  expect((await waitTask(sim.url, s, scan)).status).toBe('success');
}

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  s = await login(sim);
});
afterEach(() => sim.faults.clear());
afterAll(() => sim.stop());

describe('a task that never completes', () => {
  for (const transport of ['json', 'xml'] as const) {
    it(`stays pending, and task.cancel over ${transport.toUpperCase()}-RPC ends it cancelled with nothing left behind`, async () => {
      const rpc = (method: string, ...params: unknown[]): Promise<any> =>
        transport === 'json' ? jsonOk(sim.url, method, s, ...params) : xmlOk(sim.url, method, s, ...params);
      await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify({ methods: 'VM.clone', taskHang: 1 }) });
      const before = counts();
      const task: string = await rpc('Async.VM.clone', template(), `hung-${transport}`);
      const { token } = await rpc('event.from', [`task/${task}`], '', 0);

      // Later tasks run and finish; the hung one does not move.
      await drainTaskQueue();
      const hung = await rpc('task.get_record', task);
      expect(hung).toMatchObject({ status: 'pending', progress: 0, allowed_operations: ['cancel'], error_info: [] });
      expect(sim.db.findByName('VM', `hung-${transport}`)).toEqual([]);

      await rpc('task.cancel', task);
      const done = await rpc('task.get_record', task);
      expect(done).toMatchObject({ status: 'cancelled', progress: 1, allowed_operations: [], error_info: ['TASK_CANCELLED', task] });
      // XML-RPC clients get a Date, JSON-RPC ones XAPI's "YYYYMMDDThh:mm:ssZ" string.
      const finishedYear = done.finished instanceof Date ? done.finished.getUTCFullYear() : Number(String(done.finished).slice(0, 4));
      expect(finishedYear).toBeGreaterThan(1970);
      // A client waiting on task/<ref> through event.from is told.
      const batch = await rpc('event.from', [`task/${task}`], token, 1);
      expect(batch.events.map((e: any) => [e.operation, e.snapshot.status])).toEqual([['mod', 'cancelled']]);
      // The cancelled clone left no VM, VDI or VBD.
      expect(counts()).toEqual(before);
      // A finished task cannot be cancelled again.
      const again = transport === 'json' ? (await json(sim.url, 'task.cancel', [s, task])).error.message : (await xml(sim.url, 'task.cancel', s, task)).ErrorDescription[0];
      expect(again).toBe('OPERATION_NOT_ALLOWED');
    });
  }

  it('hangs only the next N matching tasks; the one after completes', async () => {
    sim.faults.inject({ methods: 'VM.clone', taskHang: 2 });
    const hung = [await call('Async.VM.clone', template(), 'h1'), await call('Async.VM.clone', template(), 'h2')];
    const ok = await waitTask(sim.url, s, await call('Async.VM.clone', template(), 'h3'));
    expect(ok.status).toBe('success');
    for (const t of hung) expect((await call('task.get_record', t)).status).toBe('pending');
    expect(sim.db.findByName('VM', 'h1')).toEqual([]);
    for (const t of hung) await call('task.cancel', t);
  });

  it('with runFirst, the operation takes effect and the task hangs past its last cancellation point: cancel is refused', async () => {
    sim.faults.inject({ methods: 'VM.clone', taskHang: { count: 1, runFirst: true } });
    const task = await call('Async.VM.clone', template(), 'done-but-pending');
    await drainTaskQueue();
    expect(sim.db.findByName('VM', 'done-but-pending')).toHaveLength(1);
    expect(await call('task.get_record', task)).toMatchObject({ status: 'pending', allowed_operations: [], result: '' });
    const refused = await json(sim.url, 'task.cancel', [s, task]);
    expect(refused.error.message).toBe('OPERATION_NOT_ALLOWED');
    expect((await call('task.get_record', task)).status).toBe('pending');
  });

  it('task.cancel works on an ordinary pending task and honours allowed_operations', async () => {
    const task = await call('task.create', 'client task', '');
    expect((await call('task.get_record', task)).allowed_operations).toEqual(['cancel']);
    // A task whose owner withdrew `cancel` from allowed_operations cannot be cancelled; restoring it makes it so.
    sim.db.set(task, 'allowed_operations', []);
    expect((await json(sim.url, 'task.cancel', [s, task])).error.message).toBe('OPERATION_NOT_ALLOWED');
    expect((await call('task.get_record', task)).status).toBe('pending');
    sim.db.set(task, 'allowed_operations', ['cancel']);
    await call('task.cancel', task);
    expect(await call('task.get_record', task)).toMatchObject({ status: 'cancelled', error_info: ['TASK_CANCELLED', task] });
  });
});
