import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexObserved } from '../../src/model/observed-index.js';
import { recordDigest } from '../../src/plan/identity.js';
import { OBSERVED_CLASSES, type ObservedState } from '../../src/model/observed.js';
import { PoolObserver, takeSnapshot } from '../../src/observe/index.js';
import type { ObservedChange, ResyncInfo } from '../../src/observe/index.js';
import { startSimulator, type FaultSpec, type Simulator } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';

let sim: Simulator;
const clients: XapiClient[] = [];
const observers: PoolObserver[] = [];

async function connect(transport: 'jsonrpc' | 'xmlrpc' = 'jsonrpc', url = sim.url): Promise<XapiClient> {
  // knownHosts: a fresh client connecting to the old master after a failover must follow to the new one.
  const knownHosts = sim.hostUrls.map((u) => new URL(u).hostname);
  const c = await XapiClient.connect({ url, user: 'root', password: 'xops', transport, failoverTimeoutMs: 5000, knownHosts });
  clients.push(c);
  return c;
}
async function observe(client: XapiClient): Promise<PoolObserver> {
  const o = new PoolObserver(client, { pollSeconds: 5 });
  observers.push(o);
  await o.start();
  return o;
}
/** A fresh client's cold snapshot: what the observer's cache must equal. */
async function freshRecords(): Promise<ObservedState['records']> {
  return (await takeSnapshot(await connect())).records;
}
function firstVm(state: ObservedState): string {
  return [...state.records.VM].find(([, v]) => v.name_label === 'legacy-web01')![0];
}
function waitFor<T>(emitter: PoolObserver, event: 'change' | 'resync', pred: (e: T) => boolean, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    const on = (e: T) => {
      if (!pred(e)) return;
      clearTimeout(t);
      emitter.off(event, on);
      resolve(e);
    };
    emitter.on(event as 'change', on as (e: ObservedChange) => void);
  });
}

beforeEach(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
});
afterEach(async () => {
  for (const o of observers.splice(0)) await o.stop();
  for (const c of clients.splice(0)) await c.close();
  await sim.stop();
});

describe('takeSnapshot', () => {
  it('costs the same small number of calls whatever the pool size, counted by the simulator', async () => {
    const counts: number[] = [];
    for (const vms of [0, 300]) {
      await sim.stop();
      sim = await startSimulator({ port: 0, seed: 'demo', vms });
      const client = await connect();
      sim.stats.reset();
      const state = await takeSnapshot(client);
      expect(state.records.VM.size).toBeGreaterThanOrEqual(vms);
      counts.push(sim.stats.total);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBeLessThanOrEqual(20);
    expect(sim.stats.get('VM.get_all_records')).toBe(1);
    expect(sim.stats.get('VM.get_record')).toBe(0);
  });

  it('reads the same records over JSON-RPC and XML-RPC (ints decoded, datetimes as wire strings)', async () => {
    const viaJson = await takeSnapshot(await connect('jsonrpc'));
    const viaXml = await takeSnapshot(await connect('xmlrpc'));
    for (const cls of OBSERVED_CLASSES) expect(viaXml.records[cls], cls).toEqual(viaJson.records[cls]);
    const vm = viaXml.records.VM.get(firstVm(viaXml))!;
    expect(typeof vm.memory_static_max).toBe('number');
  });

  it('resolves relations through ref fields: VM -> VBD -> VDI -> SR, VM -> VIF -> network, PIF -> host', async () => {
    const state = await takeSnapshot(await connect());
    const idx = indexObserved(state);
    const [, vm] = idx.byName('VM', 'legacy-web01')[0]!;
    const vbd = idx.get('VBD', vm.VBDs.find((r) => idx.get('VBD', r)?.type === 'Disk')!)!;
    const sr = idx.get('SR', idx.get('VDI', vbd.VDI)!.SR);
    expect(sr?.name_label).toBeTruthy();
    expect(idx.get('network', idx.get('VIF', vm.VIFs[0]!)!.network)).toBeDefined();
    for (const pif of state.records.PIF.values()) expect(idx.get('host', pif.host)).toBeDefined();
  });
});

describe('PoolObserver', () => {
  it('sees a change made by another client within 1 s, as one change notification', async () => {
    const observer = await observe(await connect());
    const writer = await connect();
    const vm = firstVm(observer.current());
    const seen = waitFor<ObservedChange>(observer, 'change', (c) => c.cls === 'VM' && c.ref === vm);
    const t0 = Date.now();
    await writer.call('VM.set_name_description', vm, 'changed out of band');
    const change = await seen;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(change.operation).toBe('mod');
    expect(observer.current().records.VM.get(vm)!.name_description).toBe('changed out of band');
  });

  it('sees objects created and destroyed directly in the simulator database', async () => {
    const observer = await observe(await connect());
    const added = waitFor<ObservedChange>(observer, 'change', (c) => c.cls === 'network' && c.operation === 'add');
    const ref = sim.db.create('network', { name_label: 'oob-net', other_config: {} });
    expect((await added).ref).toBe(ref);
    const removed = waitFor<ObservedChange>(observer, 'change', (c) => c.ref === ref && c.operation === 'del');
    sim.db.destroy(ref);
    await removed;
    expect(observer.current().records.network.has(ref)).toBe(false);
  });

  it('barrier() returns promptly with every earlier change applied, not after the long-poll timeout', async () => {
    const observer = await observe(await connect());
    const writer = await connect();
    const vm = firstVm(observer.current());
    await writer.call('VM.set_name_description', vm, 'before barrier');
    const t0 = Date.now();
    await observer.barrier();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(observer.current().records.VM.get(vm)!.name_description).toBe('before barrier');
  });

  it('decodes event snapshots over XML-RPC like get_all_records ones (ints as numbers)', async () => {
    const observer = await observe(await connect('xmlrpc'));
    const writer = await connect();
    const vm = firstVm(observer.current());
    await writer.call('VM.set_memory_dynamic_range', vm, 1073741824, 2147483648);
    await observer.barrier();
    const fresh = await freshRecords();
    expect(observer.current().records.VM.get(vm)).toEqual(fresh.VM.get(vm));
    expect(observer.current().records.VM.get(vm)!.memory_dynamic_max).toBe(2147483648);
  });

  it('stops following, and refuses barriers, once its client is closed', async () => {
    const client = await connect();
    const observer = await observe(client);
    await client.close();
    await expect(observer.barrier()).rejects.toThrow();
  });

  it('leaves an older current() untouched when it moves on (copy on write)', async () => {
    const observer = await observe(await connect());
    const writer = await connect();
    const before = observer.current();
    const vm = firstVm(before);
    const description = before.records.VM.get(vm)!.name_description;
    await writer.call('VM.set_name_description', vm, 'new');
    await observer.barrier();
    expect(before.records.VM.get(vm)!.name_description).toBe(description);
    expect(observer.current()).not.toBe(before);
  });

  it('replaces only the class a change touches, so indexes and digests of the others are reused, and sees the change', async () => {
    const observer = await observe(await connect());
    const writer = await connect();
    const before = observer.current();
    const vm = firstVm(before);
    const oldIndex = indexObserved(before);
    const name = before.records.VM.get(vm)!.name_label;
    await writer.call('VM.set_name_label', vm, 'renamed-by-test');
    await observer.barrier();
    const after = observer.current();
    expect(after.records.network).toBe(before.records.network);
    expect(after.records.VM).not.toBe(before.records.VM);
    // The new state's index sees the rename; the old state's still answers as that state was.
    const index = indexObserved(after);
    expect(index.byName('VM', 'renamed-by-test').map(([ref]) => ref)).toEqual([vm]);
    expect(index.byName('VM', name)).toEqual([]);
    expect(oldIndex.byName('VM', name).map(([ref]) => ref)).toEqual([vm]);
    expect(recordDigest('VM', after.records.VM.get(vm)!)).not.toBe(recordDigest('VM', before.records.VM.get(vm)!));
    // Indexes over the event-fed state equal those of a fresh snapshot.
    const fresh = indexObserved({ ...after, records: await freshRecords() });
    expect(index.byName('VM', 'renamed-by-test').map(([ref]) => ref)).toEqual(fresh.byName('VM', 'renamed-by-test').map(([ref]) => ref));
    expect([...index.managedOf('VM').keys()]).toEqual([...fresh.managedOf('VM').keys()]);
  });

  // Each fault the simulator can inject, hit while the observer runs and a change happens meanwhile:
  // the observer recovers and its cache equals a fresh snapshot.
  it.each<[string, FaultSpec, ResyncInfo['reason'] | undefined]>([
    ['events lost: full re-fetch', { eventsLost: 1, methods: 'event.from' }, 'events-lost'],
    ['every session invalidated: re-login, then re-fetch', { sessionInvalid: 'all' }, 'session-changed'],
    ['next calls SESSION_INVALID', { sessionInvalid: 1, methods: 'event.from' }, 'session-changed'],
    ['pool busy (TOO_MANY_PENDING_TASKS)', { tooManyPendingTasks: 3, methods: 'event.from' }, undefined],
    ['connection reset on the event wait', { connectionReset: { count: 2 }, methods: 'event.from' }, undefined],
    ['reply cut in the middle', { truncatedReply: 2, methods: 'event.from' }, undefined],
    ['slow pool', { latencyMs: 150 }, undefined],
  ])('recovers from %s', async (_name, fault, resyncReason) => {
    const observer = await observe(await connect());
    const writer = await connect();
    const vm = firstVm(observer.current());
    const resyncs: ResyncInfo['reason'][] = [];
    observer.on('resync', (r) => resyncs.push(r.reason));
    sim.faults.inject(fault);
    await writer.call('VM.set_name_description', vm, `after fault`);
    await observer.barrier();
    sim.faults.clear();
    if (resyncReason) expect(resyncs).toContain(resyncReason);
    expect(observer.current().records.VM.get(vm)!.name_description).toBe('after fault');
    const fresh = await freshRecords();
    for (const cls of OBSERVED_CLASSES) expect(observer.current().records[cls], cls).toEqual(fresh[cls]);
  });

  it('follows the master when the pool fails over, and keeps its cache equal to a fresh snapshot', async () => {
    const client = await connect();
    const observer = await observe(client);
    sim.failover(1);
    const writer = await connect('jsonrpc', sim.hostUrls[1]);
    const vm = firstVm(observer.current());
    await writer.call('VM.set_name_description', vm, 'on the new master');
    await waitFor<ResyncInfo>(observer, 'resync', () => true, 8000);
    await observer.barrier();
    expect(new URL(client.masterUrl).hostname).toBe('127.0.0.2');
    const fresh = await freshRecords();
    for (const cls of OBSERVED_CLASSES) expect(observer.current().records[cls], cls).toEqual(fresh[cls]);
  });
});
