import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as approveCommand } from '../../src/cli/approve-command.js';
import { defaultConfig, type PoolConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/controller/logger.js';
import { startFleet, type RunningFleet } from '../../src/fleet/fleet.js';
import { fleetStatus, startFleetHttp, type FleetHttpServer, type FleetStatus } from '../../src/fleet/http.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { LocalSource } from '../../src/source/local-source.js';
import { approvalHash } from '../../src/policy/approval.js';
import type { XapiCaller } from '../../src/xapi/caller.js';
import { XapiClient } from '../../src/xapi/client.js';

// End to end: 4 simulated pools, 2 replicas of the same fleet in this process. Each replica's XAPI
// calls go through a recorder that also serves as a kill switch: once killed, every call of that
// replica fails, as a SIGKILLed process would fall silent (nothing released, nothing cleaned up).

const TTL_MS = 2_000;
const POOLS = 4;
const quiet = () => createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });
const network = (name: string, mtu: number) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: ${mtu}\n`;

interface Write {
  pool: string;
  replica: string;
  method: string;
  /** Whose lease value was the pool's newest when the write was sent. */
  leaseHolder: string | undefined;
}

let sims: Simulator[] = [];
let repo: string;
const writes: Write[] = [];
const killed = new Set<string>();
const clients: XapiClient[] = [];

/** Calls that change the pool, apart from the lease and heartbeat bookkeeping. */
function isWrite(method: string, args: unknown[]): boolean {
  if (/^(session|event)\.|\.get_|^[^.]+\.get_all/.test(method)) return false;
  if (/^pool\.(add_to|remove_from)_other_config$/.test(method) && typeof args[1] === 'string' && /^xops\.(lease|replica\.)/.test(args[1])) return false;
  return true;
}

/** Per pool, whose lease value was last added (successfully): the holder of the moment, renewal gaps included. */
const leaseOwner = new Map<string, string>();

function recorded(client: XapiClient, pool: string, replica: string): XapiCaller {
  const self = `replica-${replica}`;
  return {
    call: async <T>(method: string, ...args: unknown[]): Promise<T> => {
      if (killed.has(replica)) throw new Error(`replica ${replica} is dead`);
      if (isWrite(method, args)) writes.push({ pool, replica: self, method, leaseHolder: leaseOwner.get(pool) });
      const result = await client.call<T>(method, ...args);
      if (method === 'pool.add_to_other_config' && args[1] === 'xops.lease') leaseOwner.set(pool, self);
      return result;
    },
  } as XapiCaller;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(join(repo, path)), { recursive: true });
  writeFileSync(join(repo, path), text);
}

function mtuOf(sim: Simulator, name: string): number | undefined {
  const [net] = sim.db.findByName('network', name);
  return net ? Number(sim.db.record(net.ref).MTU) : undefined;
}

async function until(what: string, ok: () => boolean, timeoutMs = 8_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function startReplica(name: string, limits = { adopt: false, prune: false, destructive: false }): Promise<RunningFleet> {
  const pools: PoolConfig[] = sims.map((sim, i) => ({ name: `p${i}`, xapi: sim.url, user: 'root', passwordEnv: 'UNUSED', paths: ['common', `pools/p${i}`] }));
  return startFleet({
    pools,
    source: new LocalSource({ dir: repo }),
    config: defaultConfig(),
    limits,
    holder: `replica-${name}`,
    leaseTtlMs: TTL_MS,
    leaseTakeoverSettleMs: 100,
    connect: async (pool) => {
      const client = await XapiClient.connect({ url: pool.xapi, user: 'root', password: 'xops' });
      clients.push(client);
      return { client, caller: recorded(client, pool.name, name) };
    },
    controller: { pollIntervalMs: 100, resyncIntervalMs: 600_000, backoff: { initialMs: 50, maxMs: 200 } },
    logger: quiet(),
  });
}

beforeAll(async () => {
  sims = await Promise.all(Array.from({ length: POOLS }, () => startSimulator({ port: 0, seed: 'empty' })));
  repo = mkdtempSync(join(tmpdir(), 'xops-fleet-'));
  write('common/backend.yaml', network('backend', 1500));
  for (let i = 0; i < POOLS; i++) write(`pools/p${i}/local.yaml`, network(`p${i}-local`, 1500));
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await Promise.all(sims.map((s) => s.stop()));
  rmSync(repo, { recursive: true, force: true });
});

describe('a fleet of 4 pools and 2 replicas', () => {
  it('splits the pools, applies a commit to all, takes over a dead replica within the TTL, never two writers on a pool', async () => {
    const a = await startReplica('a');
    const b = await startReplica('b');
    let http: FleetHttpServer | undefined;
    try {
      // Each pool gets its own folder's network and the shared one.
      await until('every pool converged', () => sims.every((s, i) => mtuOf(s, 'backend') === 1500 && mtuOf(s, `p${i}-local`) === 1500));
      expect(sims.every((s, i) => sims.every((_, j) => j === i || mtuOf(s, `p${j}-local`) === undefined))).toBe(true);

      // The late replica gets work: two pools each.
      const held = (f: RunningFleet) => f.pools.filter((p) => p.held()).map((p) => p.config.name);
      await until('fair split', () => held(a).length === 2 && held(b).length === 2);
      expect([...held(a), ...held(b)].sort()).toEqual(['p0', 'p1', 'p2', 'p3']);

      // a learns who holds the pools it gave up at its next look at their leases.
      await until('a sees b holding its pools', () => fleetStatus(a).pools.every((p) => p.held || p.heldBy === 'replica-b'));
      http = await startFleetHttp(a, { port: 0, stuckAfterMs: 60_000 });
      // A lease read during its holder's renewal (remove, then add) briefly shows no holder: look again until settled.
      let status!: FleetStatus;
      for (let tries = 0; tries < 200; tries++) {
        status = (await (await fetch(`${http.url}/status`)).json()) as FleetStatus;
        if (status.pools.every((p) => p.held || p.heldBy !== undefined)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(status.replicas).toEqual(['replica-a', 'replica-b']);
      expect(status.pools.map((p) => [p.name, p.held ? 'replica-a' : p.heldBy])).toEqual(
        ['p0', 'p1', 'p2', 'p3'].map((n) => [n, held(a).includes(n) ? 'replica-a' : 'replica-b']),
      );
      const one = await fetch(`${http.url}/status/p0`);
      expect(((await one.json()) as { name: string }).name).toBe('p0');
      expect((await fetch(`${http.url}/status/nope`)).status).toBe(404);
      const metrics = await (await fetch(`${http.url}/metrics`)).text();
      expect(metrics).toMatch(/^xops_lease_held\{pool="p0"\} [01]$/m);
      expect(metrics).toMatch(/^xops_fleet_replicas 2$/m);
      expect(metrics.match(/^# TYPE xops_lease_held /gm)).toHaveLength(1);

      // One commit for all pools reaches all of them.
      write('common/backend.yaml', network('backend', 9000));
      await until('commit applied to every pool', () => sims.every((s) => mtuOf(s, 'backend') === 9000));

      // Replica b dies without releasing anything; a takes every pool over and applies the next commit.
      killed.add('b');
      const diedAt = Date.now();
      write('common/backend.yaml', network('backend', 1400));
      await until('a holds every pool', () => held(a).length === 4, TTL_MS * 4);
      const takeoverMs = Date.now() - diedAt;
      await until('next commit applied to every pool', () => sims.every((s) => mtuOf(s, 'backend') === 1400));
      // Within the TTL for the leases and the heartbeats to expire, plus one renewal interval (TTL/3).
      expect(takeoverMs).toBeLessThan(TTL_MS * 2);
      expect(fleetStatus(a).replicas).toEqual(['replica-a']);

      // At no time did two replicas act on one pool: every write came from the pool's lease holder of the moment.
      expect(writes.length).toBeGreaterThan(POOLS * 3);
      expect(writes.filter((w) => w.leaseHolder !== w.replica)).toEqual([]);
      // And pools did change hands (the check above is not vacuous): b wrote, then a took b's pools.
      expect(new Set(writes.map((w) => w.replica))).toEqual(new Set(['replica-a', 'replica-b']));
    } finally {
      await http?.close();
      await a.stop();
      killed.clear();
      await b.stop();
    }
  });
});

describe('a fleet pool\'s Pool manifest', () => {
  it('rejects a commit whose Pool manifest in a pool\'s paths names another pool, at its file and line; the other pools go on', async () => {
    const c = await startReplica('c');
    try {
      await until('c holds every pool', () => c.pools.every((p) => p.held() && p.controller?.status.snapshot().lastReconcile?.result === 'success'));
      write('pools/p1/pool.yaml', 'apiVersion: xops/v1\nkind: Pool\nmetadata:\n  name: p0\nspec: {}\n');
      write('common/backend.yaml', network('backend', 1300));
      const p1 = () => c.pools.find((p) => p.config.name === 'p1')!.controller!.status.snapshot();
      await until('p1 rejects the commit', () => p1().rejected !== undefined);
      expect(p1().rejected!.diagnostics).toEqual([expect.stringMatching(/^pools\/p1\/pool\.yaml:4:\d+: Pool\/p0: .*reconciled into the configured pool 'p1'/)]);
      await until('the other pools apply the commit', () => sims.every((s, i) => i === 1 || mtuOf(s, 'backend') === 1300));
      expect(mtuOf(sims[1]!, 'backend')).not.toBe(1300);
    } finally {
      rmSync(join(repo, 'pools/p1/pool.yaml'), { force: true });
      await c.stop();
    }
  });
});

describe('approvals in a fleet', () => {
  it('an approval annotation does not count in the commit that brings the change it approves, only at a later one', async () => {
    const d = await startReplica('d', { adopt: false, prune: true, destructive: true });
    const local = readFileSync(join(repo, 'pools/p0/local.yaml'), 'utf8');
    try {
      await until('d holds every pool', () => d.pools.every((p) => p.held() && p.controller?.status.snapshot().lastReconcile?.result === 'success'));
      const p0 = () => d.pools.find((p) => p.config.name === 'p0')!.controller!.status.snapshot();
      // One commit drops p0-local (a destructive delete, which the Policy makes wait for approval) and approves it.
      const hash = approvalHash({ id: 'delete:Network/p0-local', changes: [] });
      const policyDoc = (approve: string) => `apiVersion: xops/v1\nkind: Policy\nmetadata:\n  name: review\n  annotations:\n    xops.io/approve: "${approve}"\nspec:\n  automation:\n    prune: true\n    approval: [destructive]\n`;
      rmSync(join(repo, 'pools/p0/local.yaml'));
      write('pools/p0/review.yaml', policyDoc(hash));
      await until('the delete is held at its own commit', () => p0().held.some((h) => h.address === 'Network/p0-local'));
      expect(p0().held.find((h) => h.address === 'Network/p0-local')!.reason).toContain(hash);
      expect(mtuOf(sims[0]!, 'p0-local')).toBe(1500);
      // A later commit still carrying the approval: now it counts (the held change could be reviewed).
      write('pools/p0/later.yaml', network('p0-later', 1500));
      await until('the approved delete applied at the next commit', () => mtuOf(sims[0]!, 'p0-local') === undefined);
    } finally {
      for (const f of ['review.yaml', 'later.yaml']) rmSync(join(repo, 'pools/p0', f), { force: true });
      write('pools/p0/local.yaml', local);
      await d.stop();
    }
  });
});

describe('xops approve against a fleet replica', () => {
  it('records an API approval for the named pool only, which then applies at once; without --pool it names the pools', async () => {
    const e = await startReplica('e', { adopt: false, prune: true, destructive: true });
    const http = await startFleetHttp(e, { port: 0, stuckAfterMs: 60_000, approveToken: 'approve-token-0123456789' });
    const tokenFile = join(repo, '..', `approve-token-${process.pid}`);
    writeFileSync(tokenFile, 'approve-token-0123456789\n');
    const local = readFileSync(join(repo, 'pools/p1/local.yaml'), 'utf8');
    try {
      await until('e holds every pool', () => e.pools.every((p) => p.held() && p.controller?.status.snapshot().lastReconcile?.result === 'success'));
      const p1 = () => e.pools.find((p) => p.config.name === 'p1')!.controller!.status.snapshot();
      rmSync(join(repo, 'pools/p1/local.yaml'));
      write('pools/p1/review.yaml', 'apiVersion: xops/v1\nkind: Policy\nmetadata:\n  name: review\nspec:\n  automation:\n    prune: true\n    approval: [destructive]\n');
      await until('the delete is held', () => p1().held.some((h) => h.address === 'Network/p1-local'));
      const hash = /xops\.io\/approve: ([0-9a-f]{12})/.exec(p1().held.find((h) => h.address === 'Network/p1-local')!.reason)![1]!;
      const approve = (extra: string[]) => approveCommand([hash, '--server', http.url, '--token-file', tokenFile, ...extra]);
      await expect(approve([])).rejects.toThrow(/name the pool \(xops approve [0-9a-f]{12} --pool NAME; pools: p0, p1, p2, p3\)/);
      await expect(approve(['--pool', 'nope'])).rejects.toThrow(/no pool named 'nope'/);
      const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        expect(await approve(['--pool', 'p1'])).toBe(0);
      } finally {
        out.mockRestore();
      }
      await until('the approved delete applied without a new commit', () => mtuOf(sims[1]!, 'p1-local') === undefined);
      expect(e.pools.find((p) => p.config.name === 'p2')!.approvalLedger!.approved()).toEqual([]);
    } finally {
      rmSync(join(repo, 'pools/p1/review.yaml'), { force: true });
      write('pools/p1/local.yaml', local);
      rmSync(tokenFile, { force: true });
      await http.close();
      await e.stop();
    }
  });
});

