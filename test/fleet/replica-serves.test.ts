/**
 * What a fleet replica (`xops run --config` with pools) serves besides /status: each pool's plan
 * API, and the status page.
 *
 * `xops plan REPO --config FILE --server URL`: each pool is planned by its own controller
 * (`/plan/<pool>`), against its event-fed cache, from the union of its paths. The answer must equal
 * the cold per-pool plan, action for action, and the replica must refuse a request that names no
 * pool or an unknown one, as JSON. The page (`/`) shows one section per pool, in a real browser.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetStatus } from '../../src/fleet/http.js';
import type { Plan } from '../../src/model/plan.js';
import { startSimulators, type Simulator } from '../../src/sim/index.js';
import { cleanEnv, startXops, xops } from '../cli/helpers.js';
import { launchChromium } from '../web/browser.js';

const network = (name: string, mtu = 1500) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: ${mtu}\n`;
const TOKEN = 'fleet-plan-token-0123456789';
let sims: Simulator[];
let dir: string;
let url: string;
let stop: () => Promise<unknown>;

beforeAll(async () => {
  sims = await startSimulators(2, { port: 0, seed: 'empty' });
  dir = mkdtempSync(join(tmpdir(), 'xops-fleet-plan-'));
  mkdirSync(join(dir, 'repo/common'), { recursive: true });
  mkdirSync(join(dir, 'repo/pools/a'), { recursive: true });
  writeFileSync(join(dir, 'repo/common/backend.yaml'), network('backend'));
  writeFileSync(join(dir, 'repo/pools/a/a.yaml'), network('a-only'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  execFileSync('git', ['-C', join(dir, 'repo'), 'init', '-q', '-b', 'main'], { env });
  execFileSync('git', ['-C', join(dir, 'repo'), 'add', '-A'], { env });
  execFileSync('git', ['-C', join(dir, 'repo'), 'commit', '-qm', 'first'], { env });
  writeFileSync(join(dir, 'pw'), 'xops\n');
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const pool = (name: string, sim: Simulator) => `  - {name: ${name}, xapi: '${sim.url}', user: root, passwordFile: pw, paths: [common, pools/${name}]}\n`;
  writeFileSync(join(dir, 'config.yaml'), `apiVersion: xops/v1\nkind: ControllerConfig\nhttp:\n  tokenFile: token\npools:\n${pool('a', sims[0]!)}${pool('b', sims[1]!)}`);
  const child = startXops(['run', '--config', join(dir, 'config.yaml'), '--repo', join(dir, 'repo'), '--listen', '127.0.0.1:0', '--interval', '10m', '--cache-dir', join(dir, 'cache')], { env: cleanEnv({ XDG_CACHE_HOME: join(dir, 'cache') }) });
  stop = () => {
    child.process.kill('SIGTERM');
    return new Promise((r) => child.process.once('exit', r));
  };
  url = /status at (\S+)\/status/.exec(await child.waitFor('stderr', /status at /))![1]!;
  // Both pools in line with the commit before anything is planned against them.
  const end = Date.now() + 20_000;
  for (let status: FleetStatus | undefined; !status?.pools.every((p) => p.held && p.lastResult === 'success'); ) {
    if (Date.now() > end) throw new Error(`pools not reconciled: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 100));
    status = (await (await fetch(`${url}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as FleetStatus;
  }
});
afterAll(async () => {
  await stop?.();
  await Promise.all((sims ?? []).map((s) => s.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The replica's `xops_plan_requests_total` samples, sorted. */
async function planned(): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  return text.split('\n').filter((l) => l.startsWith('xops_plan_requests_total')).sort();
}

function essence(plan: Plan) {
  return { actions: plan.actions, refused: plan.refused, diagnostics: plan.diagnostics, source: plan.source };
}

describe('xops plan --config --server against a fleet replica', () => {
  it("plans each pool through the replica exactly as the cold per-pool plan does", async () => {
    // A pull request: the shared network's MTU raised (both pools), a network only pool b gets.
    const work = join(dir, 'work');
    cpSync(join(dir, 'repo'), work, { recursive: true });
    writeFileSync(join(work, 'common/backend.yaml'), network('backend', 9000));
    mkdirSync(join(work, 'pools/b'), { recursive: true });
    writeFileSync(join(work, 'pools/b/b.yaml'), network('b-only'));
    const args = ['plan', work, '--config', join(dir, 'config.yaml'), '--out', 'json'];
    expect(await planned()).toEqual([]);
    const cold = await xops(args, { env: cleanEnv() });
    const warm = await xops([...args, '--server', url], { env: cleanEnv() });
    // Each pool's set went to that pool's controller (files by digest: several paths are no one folder).
    expect(await planned()).toEqual(['xops_plan_requests_total{pool="a",set="files"} 1', 'xops_plan_requests_total{pool="b",set="files"} 1']);
    expect(warm.stderr).toBe(cold.stderr);
    expect(warm.code).toBe(cold.code);
    const coldPlans = JSON.parse(cold.stdout) as { pool: string; plan: Plan }[];
    const warmPlans = JSON.parse(warm.stdout) as { pool: string; plan: Plan }[];
    expect(coldPlans.map((p) => [p.pool, p.plan.actions.map((a) => a.id)])).toEqual([
      ['a', ['update:Network/backend']],
      ['b', ['update:Network/backend', 'create:Network/b-only']],
    ]);
    expect(warmPlans.map((p) => ({ pool: p.pool, ...essence(p.plan) }))).toEqual(coldPlans.map((p) => ({ pool: p.pool, ...essence(p.plan) })));
  });

  it("stops a pool whose paths hold another pool's Pool manifest, as the cold plan does, and plans the others", async () => {
    const work = join(dir, 'misplaced');
    cpSync(join(dir, 'repo'), work, { recursive: true });
    mkdirSync(join(work, 'pools/b'), { recursive: true });
    writeFileSync(join(work, 'pools/b/pool.yaml'), 'apiVersion: xops/v1\nkind: Pool\nmetadata:\n  name: a\nspec:\n  description: copied from pool a\n');
    const args = ['plan', work, '--config', join(dir, 'config.yaml'), '--out', 'json'];
    const cold = await xops(args, { env: cleanEnv() });
    const warm = await xops([...args, '--server', url], { env: cleanEnv() });
    expect(cold.code).toBe(1);
    expect(cold.stderr).toMatch(/pool b: .*nothing was planned for it[\s\S]*pool-name|this Pool manifest is named 'a'/);
    expect(warm.stderr).toBe(cold.stderr);
    expect(warm.code).toBe(cold.code);
    expect((JSON.parse(warm.stdout) as { pool: string }[]).map((p) => p.pool)).toEqual(['a']);
  });

  it('diffs two commits of each pool through the replica as the cold per-pool diff does', async () => {
    const repo = join(dir, 'repo');
    const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
    const git = (...a: string[]) => execFileSync('git', ['-C', repo, ...a], { env });
    git('checkout', '-q', '-b', 'pr');
    try {
      writeFileSync(join(repo, 'common/backend.yaml'), network('backend', 9000));
      mkdirSync(join(repo, 'pools/b'), { recursive: true });
      writeFileSync(join(repo, 'pools/b/b.yaml'), network('b-only'));
      git('add', '-A');
      git('commit', '-qm', 'the pull request');
      const args = ['diff', '--base', 'main', '--head', 'pr', repo, '--config', join(dir, 'config.yaml'), '--out', 'json'];
      const cold = await xops(args, { env: cleanEnv() });
      const before = await planned();
      const warm = await xops([...args, '--server', url], { env: cleanEnv() });
      // Both commits of both pools went to the replica.
      const count = (samples: string[], pool: string) => Number(samples.find((l) => l.includes(`pool="${pool}"`))?.split(' ')[1] ?? 0);
      const after = await planned();
      expect([count(after, 'a') - count(before, 'a'), count(after, 'b') - count(before, 'b')]).toEqual([2, 2]);
      expect(warm.stderr).toBe(cold.stderr);
      expect(warm.code).toBe(cold.code);
      const coldPlans = JSON.parse(cold.stdout) as { pool: string; plan: Plan }[];
      const warmPlans = JSON.parse(warm.stdout) as { pool: string; plan: Plan }[];
      expect(coldPlans.map((p) => [p.pool, p.plan.actions.filter((a) => a.introduced).map((a) => a.id)])).toEqual([
        ['a', ['update:Network/backend']],
        ['b', ['update:Network/backend', 'create:Network/b-only']],
      ]);
      expect(warmPlans.map((p) => ({ pool: p.pool, ...essence(p.plan) }))).toEqual(coldPlans.map((p) => ({ pool: p.pool, ...essence(p.plan) })));
    } finally {
      git('checkout', '-q', 'main');
    }
  });

  it('refuses, as JSON, a request that names no pool or one it does not serve', async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const none = await fetch(`${url}/plan`, { method: 'POST', headers, body: '{"files":[]}' });
    expect(none.status).toBe(400);
    expect(((await none.json()) as { error: string }).error).toMatch(/serves several pools: name the pool .*pools: a, b/);
    const unknown = await fetch(`${url}/plan/c`, { method: 'POST', headers, body: '{"files":[]}' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/no pool named 'c'/);
    const garbled = await fetch(`${url}/plan/%E0%A4%A`, { method: 'POST', headers, body: '{"files":[]}' });
    expect(garbled.status).toBe(400);
    expect(((await garbled.json()) as { error: string }).error).toMatch(/not valid percent-encoding/);
    const unauthorized = await fetch(`${url}/plan/a`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"files":[]}' });
    expect(unauthorized.status).toBe(401);
  });
});

describe("a fleet replica's status page", () => {
  it('shows a section per pool with its resources, behind the token', async () => {
    const chromium = await launchChromium();
    try {
      const page = await chromium.context.newPage();
      const denied = await page.goto(`${url}/`);
      expect(denied?.status()).toBe(401);
      // The token once in the address, exchanged for a cookie; the page then follows the event stream.
      await page.goto(`${url}/?token=${TOKEN}`);
      const sections = page.locator('section.pool');
      await sections.nth(1).waitFor();
      expect(await sections.evaluateAll((all) => all.map((s) => s.getAttribute('data-pool')))).toEqual(['a', 'b']);
      const resources = (pool: string) => page.locator(`section[data-pool="${pool}"] table[data-section=resources] tbody tr`).evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-address'), tr.getAttribute('data-state')]));
      expect(await resources('a')).toEqual([['Network/a-only', 'synced'], ['Network/backend', 'synced']]);
      expect(await resources('b')).toEqual([['Network/backend', 'synced']]);
      expect(new URL(page.url()).search).toBe('');
    } finally {
      await chromium.close();
    }
  });
});
