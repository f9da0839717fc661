import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { createLogger } from '../../src/controller/logger.js';
import type { ControllerStatus } from '../../src/controller/status.js';
import { signWebhookBody } from '../../src/controller/webhook.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { GitSource } from '../../src/source/git-source.js';
import { LocalSource } from '../../src/source/local-source.js';
import { XapiClient } from '../../src/xapi/client.js';
import { GitFixture } from '../source/git-fixture.js';

const SECRET = 'e2e-secret';
const NETWORK = (mtu: string) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: backend\nspec:\n  mtu: ${mtu}\n`;

let sim: Simulator;
let client: XapiClient;
const controllers: RunningController[] = [];
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
});
afterAll(async () => {
  await client?.close();
  await sim?.stop();
});
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.stop();
  for (const clean of cleanups.splice(0)) clean();
});

const quiet = () => createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });

async function start(source: GitSource | LocalSource, extra: { holder?: string; reconciles?: string[] } = {}): Promise<RunningController> {
  const controller = await startController({
    source,
    caller: client,
    root: '.',
    listen: { host: '127.0.0.1', port: 0 },
    webhookSecret: SECRET,
    branch: 'main',
    leaseHolder: extra.holder,
    backoff: { initialMs: 50, maxMs: 200 },
    logger: quiet(),
    ...(extra.reconciles
      ? { reconcile: () => async (input) => (extra.reconciles!.push(input.commit), { ok: true }) }
      : {}),
  });
  controllers.push(controller);
  return controller;
}

async function status(c: RunningController): Promise<ControllerStatus> {
  return (await fetch(`${c.url}/status`)).json() as Promise<ControllerStatus>;
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function webhook(c: RunningController, body = JSON.stringify({ ref: 'refs/heads/main' }), signature = signWebhookBody(SECRET, body)) {
  return fetch(`${c.url}/webhook`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature } });
}

async function leaseValue(): Promise<string | undefined> {
  const [pool] = await client.call<string[]>('pool.get_all');
  return (await client.call<Record<string, string>>('pool.get_other_config', pool))['xops.lease'];
}

function gitFixture(): GitFixture {
  const f = new GitFixture();
  cleanups.push(() => f.cleanup());
  return f;
}

describe('controller (git repo + simulator)', () => {
  it('follows commits through the webhook, keeps the last good commit when one is invalid, and survives an unreachable remote', async () => {
    const f = gitFixture();
    f.write({ 'net.yaml': NETWORK('1500') });
    const c1 = f.commit('valid');
    const c = await start(new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot }), { holder: 'e2e-1' });

    await until('first commit in force', () => status(c), (s) => s.commit === c1);
    expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
    expect(await leaseValue()).toMatch(/^e2e-1\|/);

    f.write({ 'net.yaml': NETWORK('lots') });
    const c2 = f.commit('invalid');
    expect((await webhook(c)).status).toBe(202);
    const rejected = await until('invalid commit rejected', () => status(c), (s) => s.rejected?.commit === c2);
    expect(rejected.commit).toBe(c1);
    expect(rejected.rejected?.diagnostics).toEqual(["net.yaml:6:8: Network/backend: spec.mtu: must be a whole number, not text 'lots'"]);
    expect(rejected.lastError?.message).toContain(`staying on ${c1}`);

    expect((await webhook(c, JSON.stringify({ ref: 'refs/heads/main' }), signWebhookBody('wrong', 'x'))).status).toBe(401);

    f.write({ 'net.yaml': NETWORK('9000') });
    const c3 = f.commit('fixed');
    await webhook(c);
    const fixed = await until('fixed commit in force', () => status(c), (s) => s.commit === c3);
    expect(fixed.rejected).toBeUndefined();
    expect(fixed.resources).toEqual([{ address: 'Network/backend', state: 'synced' }]);

    renameSync(f.remote, f.remote + '.gone');
    await webhook(c);
    const unreachable = await until('fetch failure reported', () => status(c), (s) => s.source.lastSyncError !== undefined);
    expect(unreachable.commit).toBe(c3);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${c.url}/readyz`)).status).toBe(503);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toContain('xops_reconciles_total{result="invalid"} 1');
    expect(metrics).toMatch(/xops_xapi_calls_total\{method="pool.add_to_other_config",result="success"\} \d+/);
  });

  it('a second controller on the same pool stands by and does not reconcile; it takes over after the first stops', async () => {
    const f = gitFixture();
    f.write({ 'net.yaml': NETWORK('1500') });
    const c1 = f.commit('valid');
    const first = await start(new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot }), { holder: 'first' });
    await until('first in force', () => status(first), (s) => s.commit === c1);
    const reconciles: string[] = [];
    const second = await start(new GitSource({ url: f.remote, branch: 'main', cacheRoot: join(f.root, 'cache2') }), { holder: 'second', reconciles });
    const standing = await until('second standing by', () => status(second), (s) => s.standby !== undefined);
    expect(standing.standby).toMatch(/pool held by first/);
    expect(standing.lease).toMatchObject({ holder: 'second', held: false, heldBy: 'first' });
    expect(reconciles).toEqual([]);

    await first.stop();
    expect(await leaseValue()).toBeUndefined();
    await second.lease.tick();
    await until('second took over', async () => reconciles, (r) => r.length > 0);
    expect(await leaseValue()).toMatch(/^second\|/);
  });

  it('in local-folder mode, reconciles an edited file within seconds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xops-e2e-local-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'net.yaml'), NETWORK('1500'));
    const c = await start(new LocalSource({ dir, debounceMs: 50 }));
    const first = await until('first revision', () => status(c), (s) => s.commit !== undefined);
    writeFileSync(join(dir, 'net.yaml'), NETWORK('9000'));
    const edited = await until('edit reconciled', () => status(c), (s) => s.commit !== first.commit);
    expect(edited.commit).toMatch(/^local:/);
    expect(edited.lastReconcile?.trigger).toContain('file-change');
  });
});
