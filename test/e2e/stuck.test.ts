/**
 * A controller whose reconcile never returns (a hung XAPI call, a task that never ends) must not
 * look healthy, and SIGTERM must still stop it, releasing the pool lease, within a bounded time.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconcileOutcome } from '../../src/controller/types.js';
import { LocalSource } from '../../src/source/local-source.js';
import { startWorld, stopWorld, startTestController, until, type World } from './helpers.js';

let w: World;
const dir = mkdtempSync(join(tmpdir(), 'xops-e2e-stuck-'));
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await stopWorld(w);
  rmSync(dir, { recursive: true, force: true });
});

async function poolLease(): Promise<string | undefined> {
  const [pool] = await w.other.call<string[]>('pool.get_all');
  return (await w.other.call<Record<string, string>>('pool.get_other_config', pool))['xops.lease'];
}

describe('a stuck reconcile', () => {
  it('makes /healthz fail with the reason, and healthy again once it returns', async () => {
    let release!: (o: ReconcileOutcome) => void;
    const hung = new Promise<ReconcileOutcome>((r) => (release = r));
    const c = await startTestController(w, new LocalSource({ dir }), { reconcile: () => () => hung, stuckAfterMs: 50 });
    const res = await until('healthz failing', () => fetch(`${c.url}/healthz`).then(async (r) => ({ code: r.status, body: await r.text() })), (r) => r.code === 503);
    expect(res.body).toMatch(/^unhealthy: a reconcile has been running for \d+ s \(limit 0 s\)\n$/);
    release({ ok: true });
    await c.loop.idle();
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    await c.stop();
  });

  it('does not keep `xops run` from stopping: after --shutdown-timeout it releases the lease and exits 1', async () => {
    writeFileSync(join(dir, 'net.yaml'), 'apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: stuck-net\nspec:\n  mtu: 1500\n');
    // network.create answers after ten minutes: the action in flight never finishes by itself.
    w.sim.faults.latency(600_000, 'network.create');
    const child = spawn(process.execPath, ['dist/src/cli.js', 'run', '--repo', dir, '--xapi', w.sim.url, '--listen', '127.0.0.1:0', '--log-format', 'json', '--shutdown-timeout', '1s', '--cache-dir', join(dir, '.cache')], {
      env: { ...process.env, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', XOPS_XAPI_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const messages: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        messages.push((JSON.parse(l) as { msg: string }).msg);
      } catch {
        messages.push(l);
      }
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until('an action in flight', () => messages, (m) => m.includes('action started'), 10_000);
      expect(await poolLease()).toBeDefined();
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
    } finally {
      child.kill('SIGKILL');
      w.sim.faults.clear();
    }
    expect(messages).toContain('shutdown timed out: releasing the lease and exiting');
    expect(await poolLease()).toBeUndefined();
  }, 30_000);
});
