import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetStatus } from '../../src/fleet/http.js';
import { startSimulators, type Simulator } from '../../src/sim/index.js';
import { signWebhookBody } from '../../src/controller/webhook.js';
import { cleanEnv, finished, startXops } from '../cli/helpers.js';

// The built CLI as an operator runs it: `xops run --config FILE --repo DIR` with two pools listed.
const network = (name: string, mtu = 1500) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: ${mtu}\n`;
const mtus = () => sims.map((s) => Number(s.db.record(s.db.findByName('network', 'backend')[0]!.ref).MTU));
let sims: Simulator[];
let dir: string;
// A notification receiver and a GitHub statuses API in one: every JSON body POSTed to it, by path.
const notified: { type: string; pool?: string; details: string[] }[] = [];
const statuses: { path: string; state: string; context: string }[] = [];
let receiver: Server;
const TOKEN = 'fleet-read-token-0123456789';
/** Commits the working tree of the test's repository (a Git source: fetched on a webhook or a poll, not watched). */
function commit(message: string): void {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  execFileSync('git', ['-C', join(dir, 'repo'), 'add', '-A'], { env });
  execFileSync('git', ['-C', join(dir, 'repo'), 'commit', '-qm', message], { env });
}

beforeAll(async () => {
  sims = await startSimulators(2, { port: 0, seed: 'empty' });
  dir = mkdtempSync(join(tmpdir(), 'xops-run-fleet-'));
  mkdirSync(join(dir, 'repo/common'), { recursive: true });
  writeFileSync(join(dir, 'repo/common/backend.yaml'), network('backend'));
  execFileSync('git', ['-C', join(dir, 'repo'), 'init', '-q', '-b', 'main']);
  commit('first');
  writeFileSync(join(dir, 'pw'), 'xops\n');
  writeFileSync(join(dir, 'hook'), 'fleet-hook\n');
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'gh-token'), 'gh-token-for-statuses\n');
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url?.startsWith('/repos/')) statuses.push({ path: req.url, ...(JSON.parse(body) as { state: string; context: string }) });
      else notified.push(JSON.parse(body) as (typeof notified)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const pool = (name: string, sim: Simulator) => `  - {name: ${name}, xapi: '${sim.url}', user: root, passwordFile: pw, paths: [common, pools/${name}]}\n`;
  writeFileSync(join(dir, 'config.yaml'), `apiVersion: xops/v1\nkind: ControllerConfig\nhttp:\n  tokenFile: token\npools:\n${pool('a', sims[0]!)}${pool('b', sims[1]!)}`);
});
afterAll(async () => {
  await new Promise((r) => receiver.close(r));
  await Promise.all(sims.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('xops run --config with pools (child process)', () => {
  it('reconciles every pool, serves /status for all behind the token, keeps each pool\'s history, notifies per pool, fetches for all on a webhook, and releases every lease on SIGTERM', async () => {
    const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const args = ['run', '--config', join(dir, 'config.yaml'), '--repo', join(dir, 'repo'), '--listen', '127.0.0.1:0', '--interval', '10m', '--webhook-secret-file', join(dir, 'hook'), '--webhook-listen', '127.0.0.1:0', '--notify-url', notifyUrl,
      '--commit-status', 'github', '--commit-status-url', notifyUrl.replace(/\/hook$/, ''), '--commit-status-project', 'infra/fleet', '--commit-status-token-file', join(dir, 'gh-token')];
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    const child = startXops([...args, '--cache-dir', join(dir, 'cache')], {
      env: cleanEnv({ XDG_CACHE_HOME: join(dir, 'cache') }),
    });
    const listening = await child.waitFor('stderr', /status at /);
    const url = /status at (\S+)\/status/.exec(listening)![1]!;
    // --webhook-listen: the webhook on its own address, and only there.
    const hookUrl = /POST \/webhook at (\S+)\/webhook/.exec(listening)![1]!;
    let status: FleetStatus | undefined;
    const end = Date.now() + 15_000;
    while (!(status?.pools.every((p) => p.held && p.lastResult === 'success'))) {
      if (Date.now() > end) throw new Error(`pools not reconciled: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 100));
      status = (await (await fetch(`${url}/status`, auth)).json()) as FleetStatus;
    }
    expect(status.pools.map((p) => p.name)).toEqual(['a', 'b']);
    expect(sims.map((s) => s.db.findByName('network', 'backend').length)).toEqual([1, 1]);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // Each pool sets its own status on the commit (context xops/<pool>): the verdicts stand side by side.
    const first = execFileSync('git', ['-C', join(dir, 'repo'), 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const statusEnd = Date.now() + 15_000;
    const successes = () => statuses.filter((st) => st.path === `/repos/infra/fleet/statuses/${first}` && st.state === 'success').map((st) => st.context).sort();
    while (successes().length < 2) {
      if (Date.now() > statusEnd) throw new Error(`commit statuses: ${JSON.stringify(statuses)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(successes()).toEqual(['xops/a', 'xops/b']);
    // The read endpoints want the configuration's token (http.tokenFile), as a single controller's do; probes stay open.
    expect((await fetch(`${url}/status`)).status).toBe(401);
    expect((await fetch(`${url}/status/a`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0000000000' } })).status).toBe(401);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // Each pool's own reconcile history.
    const history = (await (await fetch(`${url}/history/a`, auth)).json()) as { entries: { result: string }[] };
    expect(history.entries.map((e) => e.result)).toContain('success');
    const all = (await (await fetch(`${url}/history`, auth)).json()) as { pools: Record<string, unknown> };
    expect(Object.keys(all.pools).sort()).toEqual(['a', 'b']);
    expect((await fetch(`${url}/history/nope`, auth)).status).toBe(404);

    // The poll is 10 minutes away: only the webhook can bring this edit in, to both pools.
    writeFileSync(join(dir, 'repo/common/backend.yaml'), network('backend', 9000));
    commit('mtu 9000');
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    expect((await fetch(`${url}/webhook`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${hookUrl}/status`, auth)).status).toBe(404);
    const hook = await fetch(`${hookUrl}/webhook`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signWebhookBody('fleet-hook', body) } });
    expect(hook.status, await hook.clone().text()).toBeLessThan(300);
    const hookText = await hook.text();
    const hookEnd = Date.now() + 15_000;
    while (mtus().some((m) => m !== 9000)) {
      if (Date.now() > hookEnd) throw new Error(`webhook did not bring the edit in: ${mtus().join(', ')} ${hookText}\n${(child.process as unknown as { captured: { stdout: string } }).captured.stdout.split('\n').slice(-6).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    // A commit one pool rejects (its Pool manifest names the other) is notified for that pool, by name.
    mkdirSync(join(dir, 'repo/pools/b'), { recursive: true });
    writeFileSync(join(dir, 'repo/pools/b/pool.yaml'), 'apiVersion: xops/v1\nkind: Pool\nmetadata:\n  name: a\nspec: {}\n');
    commit('a Pool manifest in the wrong folder');
    const signed = (text: string) => ({ method: 'POST', body: text, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signWebhookBody('fleet-hook', text) } });
    expect((await fetch(`${hookUrl}/webhook`, signed(body))).status).toBeLessThan(300);
    const rejectedEnd = Date.now() + 15_000;
    while (!notified.some((n) => n.type === 'commit-rejected')) {
      if (Date.now() > rejectedEnd) throw new Error(`no commit-rejected notification: ${JSON.stringify(notified)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const rejected = notified.filter((n) => n.type === 'commit-rejected');
    expect(rejected.map((n) => n.pool)).toEqual(['b']);
    expect(rejected[0]!.details.join('\n')).toMatch(/pools\/b\/pool\.yaml:4:\d+: .*configured pool 'b'/);

    child.process.kill('SIGTERM');
    const result = await finished(child.process);
    expect(result.code).toBe(0);
    for (const s of sims) {
      const config = s.db.record(s.poolRef).other_config as Record<string, string>;
      expect(Object.keys(config).filter((k) => k.startsWith('xops.lease') || k.startsWith('xops.replica.'))).toEqual([]);
    }
  });
});
