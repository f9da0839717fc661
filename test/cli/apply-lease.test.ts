/**
 * `xops apply` takes the pool lease the controllers share, as Terraform locks its state: it refuses
 * while another writer holds it, says who and since when, and releases it when done.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PoolLease } from '../../src/controller/lease.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';
import { vmManifest } from '../e2e/helpers.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');

let sim: Simulator;
let client: XapiClient;
let work: string;
let env: NodeJS.ProcessEnv;

async function xops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
async function leaseValue(): Promise<string | undefined> {
  const [pool] = await client.call<string[]>('pool.get_all');
  return (await client.call<Record<string, string>>('pool.get_other_config', pool))['xops.lease'];
}

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  work = await mkdtemp(join(tmpdir(), 'xops-apply-lease-'));
  await writeFile(join(work, 'vm.yaml'), vmManifest('locked-vm', { powerState: 'halted' }));
  env = { ...process.env, XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1', XDG_CACHE_HOME: join(work, 'cache') };
});
beforeEach(async () => {
  const [pool] = await client.call<string[]>('pool.get_all');
  await client.call('pool.remove_from_other_config', pool, 'xops.lease');
});
afterAll(async () => {
  await client?.close();
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('xops apply and the pool lease', () => {
  it('refuses while a controller holds the pool, naming it and since when, and changes nothing', async () => {
    const controller = new PoolLease({ caller: client, holder: 'ctl-host:4242:abc' });
    const taken = await controller.acquire();
    expect(taken.held).toBe(true);
    const { code, stderr } = await xops(['apply', work, '--yes']);
    expect(code).toBe(1);
    expect(stderr.split('\n')[0]).toBe(
      `xops: the pool is locked by ctl-host:4242:abc since ${taken.since} (lease renewed until ${taken.expiresAt}): ` +
        `a controller or another 'xops apply' is changing it; stop it or wait, or pass --force-lease (dangerous: two writers at once)`,
    );
    expect(await client.call<string[]>('VM.get_by_name_label', 'locked-vm')).toEqual([]);
    // The controller's lease is untouched.
    expect(await leaseValue()).toMatch(/^ctl-host:4242:abc\|/);
  });

  it('--force-lease takes it, warns, applies, and leaves the lease free', async () => {
    await new PoolLease({ caller: client, holder: 'ctl-host:4242:abc' }).acquire();
    const { code, stderr } = await xops(['apply', work, '--yes', '--force-lease']);
    expect(stderr).toContain('xops: --force-lease: taking the pool lease from ctl-host:4242:abc; it may still be writing to the pool');
    expect(code).toBe(0);
    expect(await client.call<string[]>('VM.get_by_name_label', 'locked-vm')).toHaveLength(1);
    expect(await leaseValue()).toBeUndefined();
  });

  it('holds the lease while it applies (a controller would stand by), and releases it after', async () => {
    // Slow VM calls keep the apply running while the lease is looked at (reading it takes nothing).
    sim.faults.latency(40, 'VM.*');
    await writeFile(join(work, 'vm2.yaml'), vmManifest('locked-vm-2', { powerState: 'halted' }));
    try {
      const applying = xops(['apply', work, '--yes']);
      const values = new Set<string>();
      let done = false;
      void applying.finally(() => (done = true));
      while (!done) {
        const v = await leaseValue();
        if (v) values.add(v.split('|')[0]!);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await applying).code).toBe(0);
      expect([...values]).toEqual([expect.stringMatching(/^xops-apply:/)]);
    } finally {
      sim.faults.clear();
    }
    expect(await leaseValue()).toBeUndefined();
  });
});
