import http from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { XapiError } from '../../src/xapi/caller.js';
import { XapiClient, type XapiClientOptions } from '../../src/xapi/client.js';
import { XapiTransportError } from '../../src/xapi/errors.js';

let sim: Simulator;
const clients: XapiClient[] = [];
const servers: http.Server[] = [];

async function connect(opts: Partial<XapiClientOptions> = {}): Promise<XapiClient> {
  const c = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', failoverTimeoutMs: 3000, ...opts });
  clients.push(c);
  return c;
}

/**
 * An HTTP proxy in front of the simulator's master; `jsonrpc: false` makes it answer /jsonrpc with 404
 * like a host that only speaks XML-RPC. Stopping it makes "the master" stop answering.
 */
async function proxy(opts: { jsonrpc: boolean }): Promise<{ url: string; stop(): Promise<void> }> {
  const target = new URL(sim.url);
  const server = http.createServer((req, res) => {
    if (!opts.jsonrpc && req.url === '/jsonrpc') {
      res.writeHead(404).end('not found');
      return;
    }
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 500, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

function vmRef(name = 'legacy-web01'): string {
  return sim.db.byName('VM', name).ref;
}

beforeEach(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) if (s.listening) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
  await sim.stop();
});

describe('XapiClient: connecting', () => {
  it('follows HOST_IS_SLAVE from a supporter to a master it was told is a host of the pool', async () => {
    const client = await connect({ url: sim.hostUrls[2]!, knownHosts: ['127.0.0.1'] });
    expect(new URL(client.masterUrl).hostname).toBe('127.0.0.1');
    expect(await client.call('pool.get_all')).toHaveLength(1);
  });

  it('refuses to send the password to a master address the pool never listed', async () => {
    const err = await connect({ url: sim.hostUrls[2]! }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiTransportError);
    expect(err).toMatchObject({ code: 'UNLISTED_HOST' });
    expect((err as Error).message).toMatch(/pool master is 127\.0\.0\.1, which is not a host of this pool/);
    // One login, the one the supporter refused: nothing went to the address it named.
    expect(sim.stats.get('session.login_with_password')).toBe(1);
  });

  it('falls back to XML-RPC when the host does not speak JSON-RPC', async () => {
    const xmlOnly = await proxy({ jsonrpc: false });
    const client = await connect({ url: xmlOnly.url });
    expect(client.transportKind).toBe('xmlrpc');
    expect(await client.call('VM.get_name_label', vmRef())).toBe('legacy-web01');
  });

  it('uses JSON-RPC when the host speaks it', async () => {
    expect((await connect()).transportKind).toBe('jsonrpc');
  });

  it('never lets the password reach a log line or an error, even at trace level', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const logger = pino({ level: 'trace' }, sink);
    const client = await connect({ logger });
    await client.call('VM.get_record', vmRef());
    const err = await XapiClient.connect({ url: sim.url, user: 'root', password: 'wrong-pass-123', logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiError);
    expect((err as XapiError).code).toBe('SESSION_AUTHENTICATION_FAILED');
    expect(lines.length).toBeGreaterThan(2);
    const everything = lines.join('\n') + String(err) + JSON.stringify(err);
    expect(everything).not.toContain('xops"'); // the good password as a JSON value
    expect(everything).not.toContain('wrong-pass-123');
  });
});

describe('XapiClient: recovering from what a pool does', () => {
  it('logs in again once on SESSION_INVALID and repeats the call', async () => {
    const client = await connect();
    sim.faults.inject({ sessionInvalid: 'all' });
    expect(await client.call('VM.get_name_label', vmRef())).toBe('legacy-web01');
    expect(client.stats.logins).toBe(2);
  });

  it('gives up with SESSION_INVALID when the fresh session is refused too (no login loop)', async () => {
    const client = await connect();
    sim.faults.inject({ sessionInvalid: 2, methods: 'VM.get_name_label' });
    const err = await client.call('VM.get_name_label', vmRef()).catch((e: unknown) => e);
    expect((err as XapiError).code).toBe('SESSION_INVALID');
  });

  it('backs off and retries on TOO_MANY_PENDING_TASKS, even for writes (the pool did not run them)', async () => {
    const client = await connect();
    sim.faults.inject({ tooManyPendingTasks: 3, methods: 'VM.set_name_description' });
    await client.call('VM.set_name_description', vmRef(), 'after busy');
    expect(sim.db.record(vmRef())['name_description']).toBe('after busy');
    expect(sim.stats.get('VM.set_name_description')).toBe(4);
  });

  it('repeats a read whose connection was reset', async () => {
    const client = await connect();
    sim.faults.inject({ connectionReset: { count: 1 }, methods: 'VM.get_name_label' });
    expect(await client.call('VM.get_name_label', vmRef())).toBe('legacy-web01');
  });

  it('does not repeat a write whose outcome is unknown: it reports it, and the change happened once', async () => {
    const client = await connect();
    sim.faults.inject({ connectionReset: { count: 1, writesOnly: true, afterExecute: true } });
    const err = await client.call('VM.clone', vmRef('backup-appliance'), 'clone-once').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiTransportError);
    expect((err as XapiTransportError).sent).toBe(true);
    expect(sim.stats.get('VM.clone')).toBe(1);
    expect(sim.db.findByName('VM', 'clone-once')).toHaveLength(1);
  });

  it('repeats a read whose reply was cut short', async () => {
    const client = await connect();
    sim.faults.inject({ truncatedReply: 1, methods: 'VM.get_all_records' });
    const all = await client.call<Record<string, unknown>>('VM.get_all_records');
    expect(Object.keys(all).length).toBe(sim.db.count('VM'));
  });

  it('moves to the new master after a failover (HOST_IS_SLAVE on the next call)', async () => {
    const client = await connect();
    // Reading the host records is what makes the new master's address one the client may follow.
    await client.call('host.get_all_records');
    sim.failover(2);
    expect(await client.call('VM.get_name_label', vmRef())).toBe('legacy-web01');
    expect(new URL(client.masterUrl).hostname).toBe('127.0.0.3');
  });

  it('finds the master among the known hosts when the one it used stops answering', async () => {
    const front = await proxy({ jsonrpc: true });
    const byAddress = new Map(sim.hostUrls.map((u) => [new URL(u).hostname, u]));
    const client = await connect({ url: front.url, hostUrl: (a) => byAddress.get(a)! });
    client.setKnownHosts(['127.0.0.2', '127.0.0.1', '127.0.0.3']);
    await front.stop();
    expect(await client.call('VM.get_name_label', vmRef())).toBe('legacy-web01');
    expect(client.masterUrl).toBe(new URL(sim.url).href);
    expect(client.stats.failovers).toBe(1);
  });
});

describe('XapiClient: calls', () => {
  it('never has more than maxInFlight calls running on the pool at once', async () => {
    let running = 0;
    let peak = 0;
    sim.setHandler('host.get_name_label', async (call) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 15));
      running--;
      return call.db.record(call.args[0] as string)['name_label'];
    });
    const client = await connect({ maxInFlight: 3 });
    const host = sim.hostRefs[0]!;
    const names = await Promise.all(Array.from({ length: 12 }, () => client.call('host.get_name_label', host)));
    expect(new Set(names)).toEqual(new Set(['xcp-host1']));
    expect(peak).toBe(3);
  });

  it('runs Async calls through their task, returns the decoded result and destroys the task', async () => {
    const client = await connect();
    const clone = await client.callAsync<string>('VM.clone', vmRef('backup-appliance'), 'async-clone');
    expect(clone).toMatch(/^OpaqueRef:/);
    expect(sim.db.record(clone)['name_label']).toBe('async-clone');
    expect([...sim.db.all('task')]).toHaveLength(0);
    expect(sim.stats.get('Async.VM.clone')).toBe(1);
  });

  it('runs Async calls over XML-RPC too (the task result is an XML fragment either way)', async () => {
    const client = await connect({ transport: 'xmlrpc' });
    const clone = await client.callAsync<string>('VM.clone', vmRef('backup-appliance'), 'xml-clone');
    expect(sim.db.record(clone)['name_label']).toBe('xml-clone');
    expect([...sim.db.all('task')]).toHaveLength(0);
  });

  it('rejects with the task failure as an XapiError carrying code and params, and still destroys the task', async () => {
    const client = await connect();
    sim.faults.inject({ taskFailure: { count: 1, code: 'SR_FULL', params: ['10', '5'] } });
    const err = await client.callAsync('VM.clone', vmRef('backup-appliance'), 'will-fail').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiError);
    expect(err).toMatchObject({ code: 'SR_FULL', params: ['10', '5'], method: 'VM.clone' });
    expect([...sim.db.all('task')]).toHaveLength(0);
  });

  it('waits for many async calls through one shared event wait', async () => {
    const client = await connect();
    const refs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => client.callAsync<string>('VM.clone', vmRef('backup-appliance'), `many-${i}`)),
    );
    expect(new Set(refs).size).toBe(8);
    // One long-poll serves all eight: far fewer event.from calls than tasks.
    expect(sim.stats.get('event.from')).toBeLessThan(8 + 3);
  });

  it('rejects pending and later calls once closed', async () => {
    const client = await connect();
    await client.close();
    await expect(client.call('pool.get_all')).rejects.toThrow(/client closed/);
  });
});
