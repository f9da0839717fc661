/**
 * `npm run bench -- apply`: creates N VMs (default 100, BENCH_APPLY_VMS) from manifests against a
 * simulator that adds 50 ms to every call, once with the default concurrency (8) and once one
 * action at a time, each on a fresh pool, and prints the times and the speed-up (goal: at least 5x).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPlan } from '../src/apply/executor.js';
import { liveInventoryFrom, loadManifests } from '../src/manifests/index.js';
import { takeSnapshot } from '../src/observe/snapshot.js';
import { planChanges } from '../src/plan/index.js';
import { startSimulator } from '../src/sim/index.js';
import { XapiClient } from '../src/xapi/client.js';

function vmManifest(i: number): string {
  const name = `bench-${String(i).padStart(3, '0')}`;
  return `apiVersion: xops/v1
kind: VM
metadata:
  name: ${name}
  labels: {owner: bench}
spec:
  template: Debian Bookworm 12
  vcpus: 2
  memory: 256MiB
  disks:
    - name: root
      size: 10GiB
  networks:
    - network: Pool-wide network associated with eth0
  powerState: running
`;
}

async function timedApply(dir: string, concurrency: number, latencyMs: number): Promise<{ ms: number; actions: number; calls: number; ok: boolean; firstFailure?: string }> {
  const sim = await startSimulator({ port: 0, seed: 'demo', multiHost: false });
  const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', maxInFlight: 64 });
  try {
    const observed = await takeSnapshot(client);
    const { desired } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
    const plan = planChanges(desired, observed, { repo: 'bench' });
    sim.faults.inject({ latencyMs });
    const calls0 = client.stats.calls;
    const result = await applyPlan(plan, client, { repo: 'bench', concurrency });
    const failed = result.results.find((r) => r.state !== 'succeeded');
    return { ms: result.ms, actions: plan.actions.length, calls: client.stats.calls - calls0, ok: result.ok, firstFailure: failed && `${failed.action.id}: ${failed.reason}` };
  } finally {
    await client.close();
    await sim.stop();
  }
}

export async function benchApply(): Promise<void> {
  const count = Number(process.env['BENCH_APPLY_VMS'] ?? 100);
  const latencyMs = 50;
  const dir = await mkdtemp(join(tmpdir(), 'xops-bench-apply-'));
  try {
    await writeFile(join(dir, 'vms.yaml'), Array.from({ length: count }, (_, i) => vmManifest(i + 1)).join('---\n'));
    const concurrent = await timedApply(dir, 8, latencyMs);
    const serial = await timedApply(dir, 1, latencyMs);
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    process.stdout.write(`apply ${count} VMs (create, disk, VIF, start), ${latencyMs} ms added per call\n`);
    process.stdout.write(`  concurrency 8: ${s(concurrent.ms)} (${concurrent.calls} calls${concurrent.ok ? '' : ', FAILURES'})\n`);
    process.stdout.write(`  one at a time: ${s(serial.ms)} (${serial.calls} calls${serial.ok ? '' : ', FAILURES'})\n`);
    for (const r of [concurrent, serial]) if (r.firstFailure) process.stdout.write(`  first failure: ${r.firstFailure}\n`);
    process.stdout.write(`  speed-up: ${(serial.ms / concurrent.ms).toFixed(1)}x (goal >= 5x)\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
