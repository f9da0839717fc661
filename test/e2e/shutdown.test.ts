import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';
import { until, vmManifest } from './helpers.js';

// Runs `node dist/src/cli.js run` as a child process: `npm test` builds dist first.
let sim: Simulator;
let client: XapiClient;
const dir = mkdtempSync(join(tmpdir(), 'xops-e2e-shutdown-'));
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
});
afterAll(async () => {
  await client?.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function poolOtherConfig(): Promise<Record<string, string>> {
  const [pool] = await client.call<string[]>('pool.get_all');
  return client.call<Record<string, string>>('pool.get_other_config', pool);
}

describe('xops run --sim (what npm start runs)', () => {
  it('starts the simulator, prints the plan and applies it, then stops on SIGINT with exit 0', async () => {
    const simDir = mkdtempSync(join(tmpdir(), 'xops-e2e-sim-'));
    writeFileSync(join(simDir, 'vm.yaml'), vmManifest('sim-vm', { powerState: 'halted' }));
    const child = spawn(process.execPath, ['dist/src/cli.js', 'run', '--repo', simDir, '--sim', 'demo', '--sim-port', '0', '--listen', '127.0.0.1:0'], {
      env: { ...process.env, NO_COLOR: '1', XOPS_XAPI_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until('the plan applied', () => stdout, (o) => o.includes('Apply complete'), 15_000);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(simDir, { recursive: true, force: true });
    }
    expect(stdout).toMatch(/XAPI simulator running at http:\/\/127\.0\.0\.1:\d+ \(user root, password xops/);
    expect(stdout).toContain('+ create VM/sim-vm');
    expect(stdout).toMatch(/Apply complete: 1 succeeded, 0 failed/);
    expect(stdout).toMatch(/INFO  controller stopped\nxops stopped: pool lease released, logged out of the pool\n$/);
  }, 30_000);
});

describe('xops run, SIGTERM', () => {
  it('finishes the action in flight, starts no other, releases the lease and exits 0', async () => {
    const names = ['stop-1', 'stop-2', 'stop-3'];
    // The VMs wait for their network: when the signal lands during the network's creation, the VMs
    // are what must not start.
    writeFileSync(join(dir, 'net.yaml'), 'apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: stop-net\nspec:\n  mtu: 1500\n');
    for (const n of names) writeFileSync(join(dir, `${n}.yaml`), vmManifest(n, { powerState: 'halted', networks: ['stop-net'] }));
    // Slow network calls make "in flight" last long enough for the signal to land inside the action.
    sim.faults.latency(400, 'network.*');
    const child = spawn(process.execPath, ['dist/src/cli.js', 'run', '--repo', dir, '--listen', '127.0.0.1:0', '--log-format', 'json', '--xapi', sim.url], {
      env: { ...process.env, XOPS_XAPI_PASSWORD: 'xops', XOPS_XAPI_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        lines.push({ msg: l });
      }
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    try {
      await until('the lease taken', poolOtherConfig, (oc) => oc['xops.lease'] !== undefined, 10_000);
      await until('an action in flight', () => lines, (l) => l.some((e) => e.msg === 'action started'), 10_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      sim.faults.clear();
    }

    const signalAt = lines.findIndex((e) => e.msg === 'shutting down: finishing the action in flight');
    expect(signalAt).toBeGreaterThan(0);
    const started = lines.filter((e) => e.msg === 'action started').map((e) => e.action);
    const finished = lines.filter((e) => e.msg === 'action succeeded').map((e) => e.action);
    // Every action that started before the signal finished; none started after it.
    expect(finished).toEqual(started);
    expect(lines.slice(signalAt).some((e) => e.msg === 'action started')).toBe(false);
    expect(started).toEqual(['create:Network/stop-net']);
    expect(await client.call<string[]>('network.get_by_name_label', 'stop-net')).toHaveLength(1);
    expect(await client.call<string[]>('VM.get_by_name_label', 'stop-1')).toEqual([]);
    expect(lines.at(-2)?.msg).toBe('controller stopped');
    expect(lines.at(-1)?.msg).toBe('stopped: pool lease released, logged out');
    expect((await poolOtherConfig())['xops.lease']).toBeUndefined();
    expect(stderr).toBe('');
  }, 30_000);
});
