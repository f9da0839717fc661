/**
 * Controller figures: git sync cost of a large manifest repo; commit → in force via the webhook
 * (fetch + read + load + observe + plan, and with a change to apply); local-folder edit → reconciled;
 * drift: an out-of-band change → visible in /status (policy report) and → healed (policy heal).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { git } from './git.js';
import { startController } from '../src/controller/controller.js';
import { createLogger } from '../src/controller/logger.js';
import { signWebhookBody } from '../src/controller/webhook.js';
import { startSimulator } from '../src/sim/index.js';
import { GitSource } from '../src/source/git-source.js';
import { LocalSource } from '../src/source/local-source.js';
import { XapiClient } from '../src/xapi/client.js';

const network = (name: string, mtu: number) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: ${mtu}\n`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

export async function benchController(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'xops-bench-controller-'));
  const sim = await startSimulator({ port: 0, seed: 'demo' });
  const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  const logger = createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });
  try {
    // A repo of 500 manifests: sync cost (fetch + ls-tree + cat-file --batch).
    const work = join(root, 'work');
    const remote = join(root, 'remote.git');
    mkdirSync(work);
    git(root, 'init', '-q', '--bare', '--initial-branch=main', remote);
    git(work, 'init', '-q', '--initial-branch=main');
    git(work, 'remote', 'add', 'origin', remote);
    mkdirSync(join(work, 'nets'));
    for (let i = 0; i < 500; i++) writeFileSync(join(work, 'nets', `net-${i}.yaml`), network(`net-${i}`, 1500));
    git(work, 'add', '-A');
    git(work, 'commit', '-qm', 'seed');
    git(work, 'push', '-q', 'origin', 'HEAD');
    const source = new GitSource({ url: remote, branch: 'main', cacheRoot: join(root, 'cache') });
    let t = performance.now();
    await source.sync();
    const firstSync = performance.now() - t;
    t = performance.now();
    await source.sync();
    process.stdout.write(`git source, 500 manifests: first sync (clone) ${fmt(firstSync)}, next sync (no change) ${fmt(performance.now() - t)}\n`);

    // Commit → in force via webhook, through the whole controller (each commit changes one network's
    // MTU, so every reconcile plans and applies one update besides loading 500 manifests).
    const controller = await startController({ source, caller: client, root: '.', listen: { host: '127.0.0.1', port: 0 }, webhookSecret: 's', branch: 'main', logger });
    t = performance.now();
    while (controller.status.snapshot().lastReconcile?.result !== 'success') await new Promise((r) => setTimeout(r, 5));
    await controller.loop.idle();
    process.stdout.write(`first reconcile of the 500-manifest repo (creates 500 networks): ${fmt(performance.now() - t)}\n`);
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const latencies: number[] = [];
    for (let i = 0; i < 15; i++) {
      writeFileSync(join(work, 'nets', 'net-0.yaml'), network('net-0', 1500 + i + 1));
      git(work, 'commit', '-qam', `change ${i}`);
      git(work, 'push', '-q', 'origin', 'HEAD');
      const commit = git(work, 'rev-parse', 'HEAD');
      const started = performance.now();
      await fetch(`${controller.url}/webhook`, { method: 'POST', body, headers: { 'x-hub-signature-256': signWebhookBody('s', body) } });
      while (controller.status.snapshot().commit !== commit || controller.status.snapshot().lastReconcile?.commit !== commit) await new Promise((r) => setTimeout(r, 2));
      latencies.push(performance.now() - started);
    }
    process.stdout.write(`commit → applied via webhook (500 manifests, one MTU update applied each): p50 ${fmt(percentile(latencies, 50))}, p95 ${fmt(percentile(latencies, 95))}, n=${latencies.length}\n`);
    await controller.stop();

    // Local folder: edit → reconciled, with the default 300 ms debounce.
    const dir = join(root, 'local');
    mkdirSync(dir);
    writeFileSync(join(dir, 'net.yaml'), network('local', 1500));
    const local = await startController({ source: new LocalSource({ dir }), caller: client, root: '.', listen: { host: '127.0.0.1', port: 0 }, logger });
    while (!local.status.snapshot().commit) await new Promise((r) => setTimeout(r, 5));
    const edits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = local.status.snapshot().commit;
      const started = performance.now();
      writeFileSync(join(dir, 'net.yaml'), network('local', 2000 + i));
      while (local.status.snapshot().commit === before) await new Promise((r) => setTimeout(r, 5));
      edits.push(performance.now() - started);
    }
    process.stdout.write(`local folder edit → in force (300 ms debounce): p50 ${fmt(percentile(edits, 50))}, max ${fmt(Math.max(...edits))}\n`);
    await local.stop();

    await benchDrift(root, client, logger);
  } finally {
    await client.close();
    await sim.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Out-of-band change → drift in /status (policy report), and → healed in the pool (policy heal). */
async function benchDrift(root: string, client: XapiClient, logger: ReturnType<typeof createLogger>): Promise<void> {
  const trials = 20;
  for (const policy of ['report', 'heal'] as const) {
    const dir = join(root, `drift-${policy}`);
    mkdirSync(dir);
    const name = `bench-drift-${policy}`;
    writeFileSync(join(dir, 'vm.yaml'), `apiVersion: xops/v1\nkind: VM\nmetadata:\n  name: ${name}\nspec:\n  description: declared\n  template: Debian Bookworm 12\n  vcpus: 1\n  memory: 1GiB\n  powerState: halted\n`);
    writeFileSync(join(dir, 'policy.yaml'), `apiVersion: xops/v1\nkind: Policy\nmetadata:\n  name: p\nspec:\n  automation:\n    drift: ${policy}\n`);
    const controller = await startController({ source: new LocalSource({ dir }), caller: client, root: dir, listen: { host: '127.0.0.1', port: 0 }, logger, resyncIntervalMs: 0 });
    while (controller.status.snapshot().lastReconcile?.result !== 'success') await new Promise((r) => setTimeout(r, 5));
    await controller.loop.idle();
    const [vm] = await client.call<string[]>('VM.get_by_name_label', name);
    const latencies: number[] = [];
    for (let i = 0; i < trials; i++) {
      const value = `changed by hand ${i}`;
      const started = performance.now();
      const startedWall = Date.now();
      await client.call('VM.set_name_description', vm, value);
      if (policy === 'report') {
        // Visible in /status: the drift entry for this trial's change (each trial changes the value).
        for (;;) {
          const body = (await (await fetch(`${controller.url}/status`)).json()) as { drift: unknown[]; lastReconcile?: { finishedAt: string } };
          if (body.drift.length > 0 && Date.parse(body.lastReconcile?.finishedAt ?? '0') >= startedWall) break;
          await new Promise((r) => setTimeout(r, 5));
        }
      } else {
        while ((await client.call<string>('VM.get_name_description', vm)) !== 'declared') await new Promise((r) => setTimeout(r, 5));
      }
      latencies.push(performance.now() - started);
      await controller.loop.idle();
    }
    const what = policy === 'report' ? 'out-of-band change → drift visible in /status (drift: report)' : 'out-of-band change → healed in the pool (drift: heal)';
    process.stdout.write(`${what}: p50 ${fmt(percentile(latencies, 50))}, p95 ${fmt(percentile(latencies, 95))}, n=${trials} (goal p95 ${policy === 'report' ? '≤ 1 s' : '≤ 2 s'})\n`);
    await controller.stop();
  }
}
