/**
 * `xops run` as a process, killed and started again: a controller restarted with its cache folder
 * takes back its own pool lease at once; another instance waits for the lease to expire. The lease
 * TTL is an hour, so a lease taken within the test can only have been taken back, never expired.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerStatus } from '../../src/controller/status.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { until, vmManifest } from './helpers.js';

let sim: Simulator;
const work = mkdtempSync(join(tmpdir(), 'xops-e2e-lease-'));
const repo = join(work, 'manifests');
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  mkdirSync(repo, { recursive: true });
  writeFileSync(join(repo, 'vm.yaml'), vmManifest('lease-vm', { powerState: 'halted' }));
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await sim?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Starts `xops run` on the manifests with the given cache folder; resolves with its status URL. */
async function controller(cacheDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['dist/src/cli.js', 'run', '--repo', repo, '--xapi', sim.url, '--listen', '127.0.0.1:0', '--log-format', 'json', '--lease-ttl', '1h', '--cache-dir', cacheDir],
    { env: { ...process.env, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', XOPS_XAPI_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let url: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      const e = JSON.parse(l) as { msg?: string; url?: string };
      if (e.msg === 'controller listening') url = e.url;
    } catch {
      // not a log line
    }
  });
  await until('the controller listening', () => url, (u) => u !== undefined, 10_000);
  return { child, url: url! };
}

async function lease(url: string): Promise<ControllerStatus['lease']> {
  return ((await (await fetch(`${url}/status`)).json()) as ControllerStatus).lease;
}

describe('xops run restarted after kill -9', () => {
  it('takes its own lease back at once; a controller with another cache folder stands by', async () => {
    const cache = join(work, 'cache-a');
    const first = await controller(cache);
    const held = await until('the lease held', () => lease(first.url), (l) => l?.held === true, 10_000);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const restarted = await controller(cache);
    const again = await until('the lease taken back', () => lease(restarted.url), (l) => l?.held === true, 10_000);
    expect(again!.holder).toBe(held!.holder);

    const other = await controller(join(work, 'cache-b'));
    const standing = await until('the other instance standing by', () => lease(other.url), (l) => l !== undefined, 10_000);
    expect(standing).toMatchObject({ held: false, heldBy: held!.holder });
    other.child.kill('SIGKILL');
    restarted.child.kill('SIGKILL');
  }, 40_000);
});
