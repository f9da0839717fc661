/**
 * Protected objects are never adopted, changed or deleted, whatever the repository says and whatever
 * the operator's limits allow: the hosts' own networks and local storage, control domains and
 * templates, plus what the operator lists in the configuration.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/src/cli.js');
const work = mkdtempSync(join(tmpdir(), 'xops-hostile-protected-'));
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
});
afterAll(async () => {
  await sim?.stop();
  rmSync(work, { recursive: true, force: true });
});

const ADOPT_AND_PRUNE = 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: take-everything}\nspec:\n  admission: []\n  automation: {adopt: true, prune: true}\n';

async function plan(files: Record<string, string>, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(work, 'repo-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const env = { ...process.env, XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' };
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'plan', dir, '--allow-adopt', '--allow-prune', ...extra], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('a commit that reaches for what xops must never touch', () => {
  it("cannot adopt the hosts' NIC network, even with adoption allowed by the operator and the policy", async () => {
    const r = await plan({
      'p.yaml': ADOPT_AND_PRUNE,
      'net.yaml': 'apiVersion: xops/v1\nkind: Network\nmetadata: {name: mgmt}\nspec:\n  nameLabel: Pool-wide network associated with eth0\n  mtu: 9000\n',
    });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/Network\/mgmt: network 'Pool-wide network associated with eth0' \([0-9a-f-]+\) is protected: it carries a host's management interface; xops never adopts, changes or deletes it/);
    expect(r.stdout).not.toMatch(/adopt Network\/mgmt/);
  });

  it("cannot adopt a host's local storage", async () => {
    const r = await plan({
      'p.yaml': ADOPT_AND_PRUNE,
      'sr.yaml': 'apiVersion: xops/v1\nkind: SR\nmetadata: {name: local}\nspec:\n  nameLabel: Local storage on xcp-host1\n  type: lvm\n  shared: false\n  host: xcp-host1\n  deviceConfig: {device: /dev/sdb}\n',
    });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("is protected: it is a host's local SR (made by the installer, not by xops)");
  });

  it("cannot adopt what the operator's configuration lists as protected", async () => {
    const config = join(work, 'config.yaml');
    writeFileSync(config, 'apiVersion: xops/v1\nkind: ControllerConfig\nprotected:\n  - {name: legacy-web01, class: VM}\n');
    const vm = 'apiVersion: xops/v1\nkind: VM\nmetadata: {name: legacy-web01}\nspec:\n  template: Debian Bookworm 12\n  vcpus: 1\n  memory: 1GiB\n  powerState: halted\n';
    const r = await plan({ 'p.yaml': ADOPT_AND_PRUNE, 'vm.yaml': vm }, ['--config', config]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("is protected: it is listed under protected in the operator's configuration");
    // Without the entry, the same commit adopts it: the refusal came from the operator's list.
    const open = await plan({ 'p.yaml': ADOPT_AND_PRUNE, 'vm.yaml': vm });
    expect(open.stdout).toContain('adopt VM/legacy-web01');
  });
});
