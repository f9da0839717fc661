import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEASE_KEY, parseLease } from '../../src/controller/lease.js';
import type { FleetStatus } from '../../src/fleet/http.js';
import { startSimulators, type LoggedCall, type Simulator } from '../../src/sim/index.js';
import { cleanEnv, finished, startXops } from '../cli/helpers.js';

// The fleet's acceptance run with real processes: 4 simulated pools (in this process, each keeping a
// log of every call with its session), 2 `xops run --config` replicas of the built CLI sharing them.
// All converge and apply a commit; one replica is SIGKILLed (nothing released); the survivor takes
// every pool over once the dead leases expire and applies the next commit. From the simulators' logs:
// every write to a pool came from the session of the replica whose lease value was the newest there.

const TTL_S = 3;
const POOLS = 4;
const network = (name: string, mtu: number) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: ${mtu}\n`;
let sims: Simulator[];
let dir: string;
const children: ReturnType<typeof startXops>[] = [];

function write(path: string, text: string): void {
  mkdirSync(dirname(join(dir, 'repo', path)), { recursive: true });
  writeFileSync(join(dir, 'repo', path), text);
}
const mtuOf = (sim: Simulator, name: string) => {
  const [net] = sim.db.findByName('network', name);
  return net ? Number(sim.db.record(net.ref).MTU) : undefined;
};

/** Polls until `ok` (observable state, no fixed sleeps); fails naming `what` after `limitMs`, generous: two processes start and settle their leases on a loaded CI machine. */
async function until(what: string, ok: () => boolean | Promise<boolean>, limitMs = 40_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Calls that change a pool, apart from the lease and heartbeat bookkeeping in its other_config. */
function isWrite(c: LoggedCall): boolean {
  if (/^(session|event|system|task)\.|\.get_|\.get_all/.test(c.method)) return false;
  const key = c.args[1];
  return !(/^pool\.(add_to|remove_from)_other_config$/.test(c.method) && typeof key === 'string' && (key === LEASE_KEY || key.startsWith('xops.replica.')));
}

/** Every write whose session is not that of the holder whose lease value was last added to the pool. */
function writesOutsideTheLease(log: readonly LoggedCall[]): { method: string; by?: string; leaseHolder?: string }[] {
  const holderOf = new Map<string, string>();
  let leaseHolder: string | undefined;
  const bad: { method: string; by?: string; leaseHolder?: string }[] = [];
  for (const c of log) {
    if (c.method === 'pool.add_to_other_config' && c.args[1] === LEASE_KEY && c.ok) {
      const holder = parseLease(String(c.args[2]))!.holder;
      holderOf.set(c.session, holder);
      leaseHolder = holder;
    } else if (isWrite(c) && (holderOf.get(c.session) === undefined || holderOf.get(c.session) !== leaseHolder)) {
      bad.push({ method: c.method, by: holderOf.get(c.session), leaseHolder });
    }
  }
  return bad;
}

/** The successful lease adds in a pool's log: who took or renewed it, when, until when. */
const leaseAdds = (sim: Simulator) =>
  sim.calls.entries().filter((c) => c.method === 'pool.add_to_other_config' && c.args[1] === LEASE_KEY && c.ok).map((c) => ({ at: c.at, ...parseLease(String(c.args[2]))! }));

beforeAll(async () => {
  sims = await startSimulators(POOLS, { port: 0, seed: 'empty' });
  for (const s of sims) s.calls.start();
  dir = mkdtempSync(join(tmpdir(), 'xops-replica-kill-'));
  write('common/backend.yaml', network('backend', 1500));
  for (let i = 0; i < POOLS; i++) write(`pools/p${i}/local.yaml`, network(`p${i}-local`, 1500));
  writeFileSync(join(dir, 'pw'), 'xops\n');
  const pools = sims.map((s, i) => `  - {name: p${i}, xapi: '${s.url}', user: root, passwordFile: pw, paths: [common, pools/p${i}]}\n`).join('');
  writeFileSync(join(dir, 'config.yaml'), `apiVersion: xops/v1\nkind: ControllerConfig\npools:\n${pools}`);
});
afterAll(async () => {
  for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  await Promise.all(sims.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** One replica: its own cache folder, so its own holder identity. */
function startReplica(name: string): ReturnType<typeof startXops> {
  const cache = join(dir, `cache-${name}`);
  const child = startXops(
    ['run', '--config', join(dir, 'config.yaml'), '--repo', join(dir, 'repo'), '--listen', '127.0.0.1:0', '--lease-ttl', `${TTL_S}s`, '--interval', '10m', '--cache-dir', cache, '--log-level', 'warn'],
    { env: cleanEnv({ XDG_CACHE_HOME: cache }) },
  );
  children.push(child);
  return child;
}

const statusOf = async (url: string) => (await (await fetch(`${url}/status`)).json()) as FleetStatus;

describe('2 replica processes sharing 4 pools, one killed with SIGKILL', () => {
  it('converge, split the pools, apply a commit; the survivor takes every pool within the TTL; never two writers on a pool', async () => {
    const replicas = [startReplica('a'), startReplica('b')];
    const urls = await Promise.all(replicas.map(async (r) => /status at (\S+)\/status/.exec(await r.waitFor('stderr', /status at /))![1]!));

    // Converged and split: every pool held by exactly one replica, reconciled, each with its own folder.
    let statuses: FleetStatus[] = [];
    await until('both replicas converged on a split', async () => {
      statuses = await Promise.all(urls.map(statusOf));
      const held = statuses.flatMap((s) => s.pools.filter((p) => p.held && p.lastResult === 'success').map((p) => p.name));
      return held.length === POOLS && new Set(held).size === POOLS && statuses.every((s) => s.pools.some((p) => p.held));
    });
    expect(sims.map((s, i) => [mtuOf(s, 'backend'), mtuOf(s, `p${i}-local`)])).toEqual(sims.map(() => [1500, 1500]));
    expect(statuses.map((s) => s.replicas.length)).toEqual([2, 2]);

    // One commit for all pools is applied to all.
    write('common/backend.yaml', network('backend', 9000));
    await until('the commit applied to every pool', () => sims.every((s) => mtuOf(s, 'backend') === 9000));

    // kill -9 a replica: its leases and heartbeats stay behind until they expire.
    const [survivor, victim] = [0, 1];
    const victimHolder = statuses[victim]!.holder;
    const victimPools = statuses[victim]!.pools.filter((p) => p.held).map((p) => p.name);
    replicas[victim]!.process.kill('SIGKILL');
    expect((await finished(replicas[victim]!.process)).signal).toBe('SIGKILL');
    const killedAt = Date.now();
    write('common/backend.yaml', network('backend', 1400));

    await until('the survivor holds and has reconciled every pool', async () => {
      const s = await statusOf(urls[survivor]!);
      return s.pools.every((p) => p.held && p.lastResult === 'success') && sims.every((sim) => mtuOf(sim, 'backend') === 1400);
    });
    const after = await statusOf(urls[survivor]!);
    expect(after.replicas).toEqual([after.holder]);

    // Each of the dead replica's pools was taken once its lease had expired, and within one TTL of that.
    for (const name of victimPools) {
      const adds = leaseAdds(sims[Number(name.slice(1))]!);
      const lastDead = adds.filter((a) => a.holder === victimHolder).at(-1)!;
      const takeover = adds.find((a) => a.holder === after.holder && a.at > killedAt)!;
      expect(lastDead.expiresAt).toBeGreaterThan(killedAt - TTL_S * 1000);
      expect(takeover.at).toBeGreaterThanOrEqual(lastDead.expiresAt);
      expect(takeover.at - lastDead.expiresAt).toBeLessThanOrEqual(TTL_S * 1000);
    }

    // At no time did two replicas act on one pool; and the check is not vacuous: both wrote, pools changed hands.
    for (const sim of sims) {
      expect(sim.calls.dropped).toBe(0);
      expect(sim.calls.entries().filter(isWrite).length).toBeGreaterThanOrEqual(3);
      expect(writesOutsideTheLease(sim.calls.entries())).toEqual([]);
    }
    const writers = (sim: Simulator) => new Set(leaseAdds(sim).map((a) => a.holder));
    expect(victimPools.length).toBeGreaterThan(0);
    for (const name of victimPools) expect(writers(sims[Number(name.slice(1))]!)).toEqual(new Set([victimHolder, after.holder]));

    replicas[survivor]!.process.kill('SIGTERM');
    expect((await finished(replicas[survivor]!.process)).code).toBe(0);
  }, 120_000);
});
