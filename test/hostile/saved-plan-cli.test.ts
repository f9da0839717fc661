import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';

const exec = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/src/cli.js');
const work = mkdtempSync(join(tmpdir(), 'xops-hostile-saved-'));
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
});
afterAll(async () => {
  await sim?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function xops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' };
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('xops apply --plan with a tampered file', () => {
  it('refuses a saved plan edited after plan --save, and touches nothing', async () => {
    const dir = mkdtempSync(join(work, 'repo-'));
    writeFileSync(join(dir, 'net.yaml'), 'apiVersion: xops/v1\nkind: Network\nmetadata: {name: lab}\nspec:\n  nameLabel: lab-net\n');
    const saved = join(work, 'plan.json');
    expect((await xops(['plan', dir, '--save', saved])).code).toBe(0);
    const plan = JSON.parse(readFileSync(saved, 'utf8')) as { actions: { desired?: { nameLabel?: string } }[] };
    plan.actions[0]!.desired!.nameLabel = 'planted-by-someone-else';
    writeFileSync(saved, JSON.stringify(plan));
    const r = await xops(['apply', '--plan', saved, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--plan: ${saved} is refused: its content does not match its digest: it was changed after it was saved`);
    const nets = [...sim.db.all('network')].map((o) => o.rec.name_label);
    expect(nets).not.toContain('planted-by-someone-else');
    expect(nets).not.toContain('lab-net');
  });
});

describe('xops apply --plan of a plan that read the pool', () => {
  // A disk without `sr` lands on the pool's default SR: the plan relies on the pool record. The
  // apply takes the pool's lease (in its other_config) before it checks the plan, so the lease must
  // not count as a change; a change to what the plan read still does.
  const vm = (name: string) => `apiVersion: xops/v1\nkind: VM\nmetadata: {name: ${name}}\nspec:\n  template: Debian Bookworm 12\n  vcpus: 1\n  memory: 512MiB\n  disks: [{name: root, size: 4GiB}]\n  networks: [{network: Pool-wide network associated with eth0}]\n  powerState: halted\n`;

  it('is applied: the lease apply takes is no change the plan relied on', async () => {
    const dir = mkdtempSync(join(work, 'repo-'));
    writeFileSync(join(dir, 'vm.yaml'), vm('saved-lease'));
    const saved = join(work, 'lease-plan.json');
    expect((await xops(['plan', dir, '--save', saved])).code).toBe(0);
    expect(readFileSync(saved, 'utf8')).toMatch(/"pool\//);
    const r = await xops(['apply', '--plan', saved, '--yes']);
    expect(r.stderr).not.toContain('stale');
    expect(r.code).toBe(0);
    expect([...sim.db.all('VM')].some((o) => o.rec.name_label === 'saved-lease')).toBe(true);
  });

  it('is refused as stale when the pool field it read changed', async () => {
    const dir = mkdtempSync(join(work, 'repo-'));
    writeFileSync(join(dir, 'vm.yaml'), vm('saved-stale'));
    const saved = join(work, 'stale-plan.json');
    expect((await xops(['plan', dir, '--save', saved])).code).toBe(0);
    const pool = [...sim.db.all('pool')][0]!;
    sim.db.set(pool.ref, 'name_description', 'changed after the plan');
    const r = await xops(['apply', '--plan', saved, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is stale');
    expect([...sim.db.all('VM')].some((o) => o.rec.name_label === 'saved-stale')).toBe(false);
  });
});
