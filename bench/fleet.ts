/**
 * Fleet figures: one process reconciling many simulated pools (default 20 pools × 1,000 VMs each,
 * `XOPS_BENCH_FLEET_POOLS` / `XOPS_BENCH_FLEET_VMS` to change): time to converge from cold, memory
 * once converged, and the time from a commit touching every pool to all of them applied.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { defaultConfig, type PoolConfig } from '../src/config/index.js';
import { createLogger } from '../src/controller/logger.js';
import { startFleet } from '../src/fleet/fleet.js';
import { startSimulators, type Simulator } from '../src/sim/index.js';
import { LocalSource } from '../src/source/local-source.js';
import { XapiClient } from '../src/xapi/client.js';

const network = (name: string, mtu: number) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: ${mtu}\n`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

function mtuEverywhere(sims: Simulator[], mtu: number): boolean {
  return sims.every((s) => {
    const [net] = s.db.findByName('network', 'backend');
    return net !== undefined && Number(s.db.record(net.ref).MTU) === mtu;
  });
}

async function until(ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error('fleet bench: timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function benchFleet(): Promise<void> {
  const poolCount = Number(process.env.XOPS_BENCH_FLEET_POOLS ?? 20);
  const vms = Number(process.env.XOPS_BENCH_FLEET_VMS ?? 1000);
  const repo = mkdtempSync(join(tmpdir(), 'xops-bench-fleet-'));
  mkdirSync(join(repo, 'common'));
  writeFileSync(join(repo, 'common/backend.yaml'), network('backend', 1500));
  const heapBefore = process.memoryUsage();
  let t = Date.now();
  const sims = await startSimulators(poolCount, { port: 0, seed: 'demo', vms });
  process.stdout.write(`simulators: ${poolCount} pools × ${vms} VMs started in ${Date.now() - t} ms\n`);
  const simHeap = process.memoryUsage().heapUsed - heapBefore.heapUsed;
  const pools: PoolConfig[] = sims.map((s, i) => ({ name: `pool-${i + 1}`, xapi: s.url, user: 'root', passwordEnv: 'UNUSED', paths: ['common'] }));
  const clients: XapiClient[] = [];
  t = Date.now();
  const fleet = await startFleet({
    pools,
    source: new LocalSource({ dir: repo }),
    config: defaultConfig(),
    limits: { adopt: false, prune: false, destructive: false },
    holder: 'bench',
    leaseTtlMs: 60_000,
    connect: async (p) => {
      const client = await XapiClient.connect({ url: p.xapi, user: 'root', password: 'xops' });
      clients.push(client);
      return { client };
    },
    controller: { pollIntervalMs: 200, resyncIntervalMs: 3_600_000 },
    logger: createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) }),
  });
  try {
    await until(() => mtuEverywhere(sims, 1500), 600_000);
    process.stdout.write(`cold start → every pool converged: ${Date.now() - t} ms\n`);
    global.gc?.();
    const mem = process.memoryUsage();
    process.stdout.write(
      `memory once converged: rss ${mb(mem.rss)}, heap ${mb(mem.heapUsed)} (simulators ≈ ${mb(simHeap)} of it, same process; xops ≈ ${mb(mem.heapUsed - heapBefore.heapUsed - simHeap)})\n`,
    );
    const runs: number[] = [];
    for (const mtu of [9000, 1400, 9000]) {
      t = Date.now();
      writeFileSync(join(repo, 'common/backend.yaml'), network('backend', mtu));
      await until(() => mtuEverywhere(sims, mtu), 600_000);
      runs.push(Date.now() - t);
    }
    process.stdout.write(`commit touching all ${poolCount} pools → applied everywhere: ${runs.map((r) => `${r} ms`).join(', ')} (the folder is watched; poll interval 200 ms)\n`);
  } finally {
    await fleet.stop();
    for (const c of clients) await c.close().catch(() => undefined);
    await Promise.all(sims.map((s) => s.stop()));
    rmSync(repo, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchFleet().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
