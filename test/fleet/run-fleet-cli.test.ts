import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

beforeAll(async () => {
  sims = await startSimulators(2, { port: 0, seed: 'empty' });
  dir = mkdtempSync(join(tmpdir(), 'xops-run-fleet-'));
  mkdirSync(join(dir, 'repo/common'), { recursive: true });
  writeFileSync(join(dir, 'repo/common/backend.yaml'), network('backend'));
  writeFileSync(join(dir, 'pw'), 'xops\n');
  writeFileSync(join(dir, 'hook'), 'fleet-hook\n');
  const pool = (name: string, sim: Simulator) => `  - {name: ${name}, xapi: '${sim.url}', user: root, passwordFile: pw, paths: [common]}\n`;
  writeFileSync(join(dir, 'config.yaml'), `apiVersion: xops/v1\nkind: ControllerConfig\npools:\n${pool('a', sims[0]!)}${pool('b', sims[1]!)}`);
});
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('xops run --config with pools (child process)', () => {
  it('reconciles every pool, serves /status for all, fetches for all on a webhook, and releases every lease on SIGTERM', async () => {
    const args = ['run', '--config', join(dir, 'config.yaml'), '--repo', join(dir, 'repo'), '--listen', '127.0.0.1:0', '--interval', '10m', '--webhook-secret-file', join(dir, 'hook')];
    const child = startXops([...args, '--cache-dir', join(dir, 'cache')], {
      env: cleanEnv({ XDG_CACHE_HOME: join(dir, 'cache') }),
    });
    const url = /status at (\S+)\/status/.exec(await child.waitFor('stderr', /status at /))![1]!;
    let status: FleetStatus | undefined;
    const end = Date.now() + 15_000;
    while (!(status?.pools.every((p) => p.held && p.lastResult === 'success'))) {
      if (Date.now() > end) throw new Error(`pools not reconciled: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 100));
      status = (await (await fetch(`${url}/status`)).json()) as FleetStatus;
    }
    expect(status.pools.map((p) => p.name)).toEqual(['a', 'b']);
    expect(sims.map((s) => s.db.findByName('network', 'backend').length)).toEqual([1, 1]);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    // The poll is 10 minutes away: only the webhook can bring this edit in, to both pools.
    writeFileSync(join(dir, 'repo/common/backend.yaml'), network('backend', 9000));
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const hook = await fetch(`${url}/webhook`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signWebhookBody('fleet-hook', body) } });
    expect(hook.status, await hook.clone().text()).toBeLessThan(300);
    const hookText = await hook.text();
    const hookEnd = Date.now() + 15_000;
    while (mtus().some((m) => m !== 9000)) {
      if (Date.now() > hookEnd) throw new Error(`webhook did not bring the edit in: ${mtus().join(', ')} ${hookText}\n${(child.process as unknown as { captured: { stdout: string } }).captured.stdout.split('\n').slice(-6).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    child.process.kill('SIGTERM');
    const result = await finished(child.process);
    expect(result.code).toBe(0);
    for (const s of sims) {
      const config = s.db.record(s.poolRef).other_config as Record<string, string>;
      expect(Object.keys(config).filter((k) => k.startsWith('xops.lease') || k.startsWith('xops.replica.'))).toEqual([]);
    }
  });
});
