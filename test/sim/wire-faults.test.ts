import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login, parseXmlReply, post, xml, xmlOk, xmlRequest } from './helpers.js';

// Faults on the HTTP exchange and their aim (method, class, host), over both transports, driven only by counts
// and explicit switches: every test waits on the simulator's own signals, never on a timer.

let sim: Simulator;
let s: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);
const errOf = async (method: string, ...params: unknown[]): Promise<string> => (await json(sim.url, method, [s, ...params])).error?.message;
const control = async (method: 'GET' | 'POST' | 'DELETE', body?: unknown): Promise<{ status: number; json: any }> => {
  const res = await fetch(`${sim.url}/_sim/faults`, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: await res.json() };
};
const networkCreate = (name: string) => ['network.create', { name_label: name, other_config: {} }] as const;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  s = await login(sim);
});
afterEach(async () => {
  sim.faults.clear();
  await sim.faults.settled();
  if (sim.db.record(sim.poolRef).master !== sim.hostRefs[0]) sim.failover(0);
});
afterAll(() => sim.stop());

describe('aim', () => {
  it('aims a fault at one class: its sync and Async calls, not other classes', async () => {
    sim.faults.inject({ class: 'SR', tooManyPendingTasks: 2 });
    expect(await call('VM.get_all')).toBeInstanceOf(Array);
    expect(await errOf('SR.get_all')).toBe('TOO_MANY_PENDING_TASKS');
    expect(await errOf('Async.SR.scan', sim.db.byName('SR', 'pool-nfs').ref)).toBe('TOO_MANY_PENDING_TASKS');
    expect(await call('SR.get_all')).toBeInstanceOf(Array);
  });

  it('aims a fault at one method and leaves the others of its class alone', async () => {
    sim.faults.inject({ methods: 'VM.clone', taskFailure: { count: 1 } });
    const tpl = sim.db.byName('VM', 'Rocky Linux 9').ref;
    expect(await call('VM.get_all')).toBeInstanceOf(Array);
    expect(sim.faults.state().rules).toHaveLength(1);
    await call('Async.VM.clone', tpl, 'aimed');
    expect(sim.faults.state().rules).toEqual([]);
  });

  it('aims a fault at the calls one host receives', async () => {
    sim.faults.inject({ host: 1, sessionInvalid: 1 });
    // Calls to host 0 (the master) are not aimed at. Host 1 only checks sessions once it is the master itself.
    expect(await call('pool.get_all')).toEqual([sim.poolRef]);
    expect(sim.faults.state().rules).toEqual([{ kind: 'sessionInvalid', methods: '*', host: 1, remaining: 1 }]);
    sim.failover(1);
    const s1 = await xmlOk(sim.hostUrls[1]!, 'session.login_with_password', 'root', 'xops');
    expect((await xml(sim.hostUrls[1]!, 'pool.get_all', s1)).ErrorDescription).toEqual(['SESSION_INVALID', s1]);
    expect(await xmlOk(sim.hostUrls[1]!, 'pool.get_all', s1)).toEqual([sim.poolRef]);
  });

  it('refuses a malformed fault spec on the control endpoint with a one-line error naming the field, adding nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{ noReply: 0 }, /'noReply' must be an integer between 1 and 1000000/],
      [{ taskHang: { count: 1, runfirst: true } }, /unknown field 'taskHang.runfirst'/],
      [{ garbageReply: { count: 1, status: 42 } }, /'garbageReply.status' must be an integer between 100 and 599/],
      [{ hostDark: { mode: 'refuse' } }, /'hostDark.host' is required/],
      [{ hostDark: { host: 1, mode: 'off' } }, /'hostDark.mode' must be 'silent' or 'refuse'/],
      [{ class: 'VM.*', eventsLost: 1 }, /'class' must be a class name/],
      [{ latencyMs: 10_000_000 }, /'latencyMs' must be an integer between 0 and 600000/],
      [{ bogus: 1 }, /unknown field 'bogus'/],
      [[1, 2], /must be an object/],
      [{ hostDark: { host: 9 } }, /no host with index 9/],
    ];
    for (const [body, message] of cases) {
      const r = await control('POST', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatch(message);
      expect(r.json.error).not.toContain('\n');
    }
    expect(await control('GET')).toEqual({ status: 200, json: { latency: [], rules: [], dark: [], held: 0, frozen: false } });
    expect(() => sim.faults.inject({ truncatedReply: -1 })).toThrow(/'truncatedReply' must be an integer/);
  });
});

describe('garbage reply', () => {
  it('runs the call, then answers XML-RPC with something that is not a methodResponse', async () => {
    sim.faults.inject({ methods: 'network.create', garbageReply: 1 });
    const r = await post(sim.url, xmlRequest('network.create', [s, { name_label: 'garbled-xml', other_config: {} }]), 'text/xml');
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('text/xml');
    await expect(parseXmlReply(r.text)).rejects.toThrow();
    expect(sim.db.findByName('network', 'garbled-xml')).toHaveLength(1);
    expect(sim.faults.state().rules).toEqual([]);
  });

  it('runs the call, then answers JSON-RPC with a body no JSON parser accepts, or with a chosen status and body', async () => {
    sim.faults.inject({ class: 'network', garbageReply: 1 });
    const r = await post(`${sim.url}/jsonrpc`, JSON.stringify({ jsonrpc: '2.0', method: networkCreate('garbled-json')[0], params: [s, networkCreate('garbled-json')[1]], id: 1 }), 'application/json');
    expect(r.contentType).toBe('application/json');
    expect(() => JSON.parse(r.text)).toThrow();
    expect(sim.db.findByName('network', 'garbled-json')).toHaveLength(1);

    await control('POST', { methods: 'VM.get_all', garbageReply: { count: 1, status: 502, contentType: 'text/html', body: '<html>Bad Gateway</html>' } });
    const gw = await post(`${sim.url}/jsonrpc`, JSON.stringify({ jsonrpc: '2.0', method: 'VM.get_all', params: [s], id: 1 }), 'application/json');
    expect(gw).toEqual({ status: 502, contentType: 'text/html', text: '<html>Bad Gateway</html>' });
    expect(await call('VM.get_all')).toBeInstanceOf(Array);
  });
});

describe("Xen Orchestra's xen-api client", () => {
  it('rejects a garbage reply to a write it cannot retry, on both transports, while the write did happen', async () => {
    const { Xapi } = (await import('xen-api' as string)) as { Xapi: new (o: Record<string, unknown>) => any };
    for (const transport of ['json-rpc', 'xml-rpc']) {
      const xapi = new Xapi({ url: sim.url, auth: { user: 'root', password: 'xops' }, transport, allowUnauthorized: true, watchEvents: false });
      await xapi.connect();
      try {
        sim.faults.inject({ methods: 'network.create', garbageReply: 1 });
        await expect(xapi.call('network.create', { name_label: `xo-garbage-${transport}`, other_config: {} })).rejects.toThrow();
        expect(sim.db.findByName('network', `xo-garbage-${transport}`)).toHaveLength(1);
        sim.faults.inject({ methods: 'network.create', noReply: 1 });
        const pending = xapi.call('network.create', { name_label: `xo-silent-${transport}`, other_config: {} });
        await sim.faults.held.waitFor(1);
        sim.faults.clear();
        await expect(pending).rejects.toThrow();
      } finally {
        await xapi.disconnect();
      }
    }
  });
});

describe('no reply', () => {
  it('reads a request and never answers it; the client gives up on its own clock, and the next call is answered', async () => {
    sim.faults.inject({ methods: 'network.create', noReply: 1 });
    const abort = new AbortController();
    const [method, rec] = networkCreate('never-created');
    const pending = fetch(`${sim.url}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', method, params: [s, rec], id: 1 }), signal: abort.signal });
    await sim.faults.held.waitFor(1);
    expect((await control('GET')).json.held).toBe(1);
    abort.abort();
    await expect(pending).rejects.toThrow();
    expect(sim.db.findByName('network', 'never-created')).toEqual([]);
    expect(await call('network.get_all')).toBeInstanceOf(Array);
  });

  it('with afterExecute, the call takes effect and the answer never comes; clearing the faults drops the connection', async () => {
    await control('POST', { methods: 'network.create', noReply: { count: 1, afterExecute: true } });
    const pending = xml(sim.url, 'network.create', s, { name_label: 'done-but-silent', other_config: {} });
    await sim.faults.held.waitFor(1);
    expect(sim.db.findByName('network', 'done-but-silent')).toHaveLength(1);
    await control('DELETE');
    await expect(pending).rejects.toThrow();
    expect(sim.faults.state().held).toBe(0);
  });

  it('with writesOnly, lets reads through and holds the first write', async () => {
    sim.faults.inject({ noReply: { count: 1, writesOnly: true } });
    expect(await call('network.get_all')).toBeInstanceOf(Array);
    const pending = call(...networkCreate('held-write'));
    await sim.faults.held.waitFor(1);
    sim.faults.clear();
    await expect(pending).rejects.toThrow();
    expect(sim.db.findByName('network', 'held-write')).toEqual([]);
  });
});

describe('dark host', () => {
  it('silent: the master reads requests and never answers while the other hosts still do; restore drops what it held', async () => {
    sim.faults.hostDark(0);
    const pending = xml(sim.url, 'pool.get_all', s);
    await sim.faults.held.waitFor(1);
    expect(sim.faults.state().dark).toEqual([{ host: 0, mode: 'silent' }]);
    // A supporter still answers, naming the master it believes in: the old one, which is the one that went dark.
    expect((await xml(sim.hostUrls[1]!, 'session.login_with_password', 'root', 'xops')).ErrorDescription).toEqual(['HOST_IS_SLAVE', '127.0.0.1']);
    // After a failover the new master answers while the old one stays dark.
    sim.failover(1);
    const s1 = await xmlOk(sim.hostUrls[1]!, 'session.login_with_password', 'root', 'xops');
    expect(await xmlOk(sim.hostUrls[1]!, 'pool.get_all', s1)).toEqual([sim.poolRef]);
    sim.faults.hostRestore(0);
    await expect(pending).rejects.toThrow();
    expect((await xml(sim.url, 'pool.get_all', s)).ErrorDescription).toEqual(['HOST_IS_SLAVE', '127.0.0.2']);
  });

  it('refuse: the host closes its listener (connection refused) and listens again when restored', async () => {
    expect((await control('POST', { hostDark: { host: 2, mode: 'refuse' } })).json.dark).toEqual([{ host: 2, mode: 'refuse' }]);
    await expect(xml(sim.hostUrls[2]!, 'session.login_with_password', 'root', 'xops')).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    // The control endpoint of any other host still works, so the dark host can be brought back from outside.
    await fetch(`${sim.hostUrls[1]}/_sim/faults`, { method: 'POST', body: JSON.stringify({ hostRestore: 2 }) });
    expect((await xml(sim.hostUrls[2]!, 'session.login_with_password', 'root', 'xops')).ErrorDescription).toEqual(['HOST_IS_SLAVE', '127.0.0.1']);
  });
});

describe('connection-level faults keep counting per call', () => {
  it('resets exactly the next N matching calls, then answers', async () => {
    sim.faults.inject({ methods: 'VM.get_all', connectionReset: { count: 2 } });
    await expect(call('VM.get_all')).rejects.toThrow();
    await expect(xml(sim.url, 'VM.get_all', s)).rejects.toThrow();
    expect(await call('VM.get_all')).toBeInstanceOf(Array);
  });
});
