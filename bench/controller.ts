/**
 * Controller figures that do not need the planner or apply: how fast a pushed commit reaches the
 * reconciler through the webhook (git fetch + read from the object store + validation), how long a
 * sync of a large manifest repo takes, and how long a local-folder edit takes to be reconciled.
 * Drift detect/heal latency needs observe + apply wired into reconcile.ts and is measured there.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startController } from '../src/controller/controller.js';
import { createLogger } from '../src/controller/logger.js';
import { signWebhookBody } from '../src/controller/webhook.js';
import { startSimulator } from '../src/sim/index.js';
import { GitSource } from '../src/source/git-source.js';
import { LocalSource } from '../src/source/local-source.js';
import { XapiClient } from '../src/xapi/client.js';

const ENV = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@x.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@x.invalid' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: ENV, encoding: 'utf8' }).trim();
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

    // Commit → in force via webhook, through the whole controller (minimal validating reconciler).
    const controller = await startController({ source, caller: client, root: '.', listen: { host: '127.0.0.1', port: 0 }, webhookSecret: 's', branch: 'main', logger });
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const latencies: number[] = [];
    for (let i = 0; i < 15; i++) {
      writeFileSync(join(work, 'nets', 'net-0.yaml'), network('net-0', 1500 + i + 1));
      git(work, 'commit', '-qam', `change ${i}`);
      git(work, 'push', '-q', 'origin', 'HEAD');
      const commit = git(work, 'rev-parse', 'HEAD');
      const started = performance.now();
      await fetch(`${controller.url}/webhook`, { method: 'POST', body, headers: { 'x-hub-signature-256': signWebhookBody('s', body) } });
      while (controller.status.snapshot().commit !== commit) await new Promise((r) => setTimeout(r, 2));
      latencies.push(performance.now() - started);
    }
    process.stdout.write(`commit → in force via webhook (500 manifests, validate only): p50 ${fmt(percentile(latencies, 50))}, p95 ${fmt(percentile(latencies, 95))}, n=${latencies.length}\n`);
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
  } finally {
    await client.close();
    await sim.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
