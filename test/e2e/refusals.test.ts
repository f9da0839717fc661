import { defaultConfig } from '../../src/config/index.js';
/**
 * Refusals are errors, end to end against the simulator's demo pool (3 hosts of 64 GiB, thick LVM
 * local storage of 930 GiB each): `xops plan` exits 1 and names the problem on stderr, `xops apply`
 * applies what it can, changes nothing for the refused resource and exits 1, and the controller's
 * /status shows the resource `refused` while the reconcile fails and a metric counts it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/executor.js';
import { liveInventoryFrom, loadManifests } from '../../src/manifests/index.js';
import { takeSnapshot } from '../../src/observe/snapshot.js';
import { gatedPlan } from '../../src/plan/pipeline.js';
import { LocalSource } from '../../src/source/local-source.js';
import { GiB, LOCAL_DEBOUNCE_MS, metrics, policyManifest, resetWorld, startTestController, startWorld, status, stopWorld, until, vmRecord, vmManifest, type World } from './helpers.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');

let w: World;
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

/** A fresh manifests folder with these files. */
async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

/** Applies the folder in this process (set-up steps, faster than a CLI run); every action must succeed. */
async function applyHere(dir: string): Promise<void> {
  const observed = await takeSnapshot(w.client);
  const { desired } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
  const plan = gatedPlan(desired, observed, [], { now: new Date(), limits: defaultConfig().limits });
  const result = await applyPlan(plan, w.client, { retryDelayMs: 10 });
  expect(result.ok).toBe(true);
}

const vmWith = (name: string, spec: string[]) => [
  'apiVersion: xops/v1', 'kind: VM', 'metadata:', `  name: ${name}`, 'spec:', '  template: Debian Bookworm 12', '  vcpus: 1', ...spec.map((l) => `  ${l}`), '',
].join('\n');

beforeAll(async () => {
  w = await startWorld();
  work = await mkdtemp(join(tmpdir(), 'xops-refusals-'));
  env = { ...process.env, XOPS_XAPI_URL: w.sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1', XDG_CACHE_HOME: join(work, 'cache') };
});
afterEach(async () => resetWorld(w));
afterAll(async () => {
  await stopWorld(w);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('capacity refusals', () => {
  it('a VM too large for any host and a disk too large for its SR are refused: plan exits 1, apply creates only what fits', async () => {
    const dir = await folder('too-big', {
      'big.yaml': vmManifest('cap-big', { memory: '100GiB' }),
      'disk.yaml': vmWith('cap-disk', ['memory: 1GiB', 'powerState: halted', 'disks:', '  - {name: data, size: 1000GiB, sr: Local storage on xcp-host1}']),
      'small.yaml': vmManifest('cap-small', { powerState: 'halted' }),
    });
    const plan = await xops(['plan', dir, '--detailed-exitcode', '--out', 'json']);
    expect(plan.code).toBe(1);
    expect(JSON.parse(plan.stdout).actions.map((a: { address: string }) => a.address)).toEqual(['VM/cap-small']);
    expect(plan.stderr).toMatch(/^xops: refused VM\/cap-big spec\.memory: VM 'cap-big' needs 100 GiB of memory and 1 vCPU to start; the largest free host memory is \d+(\.\d)? GiB on xcp-host\d/m);
    expect(plan.stderr).toMatch(/^xops: refused VM\/cap-disk spec\.disks\[data\]: disk 'data' needs 1000 GiB on SR 'Local storage on xcp-host1' \(a thick SR/m);

    const apply = await xops(['apply', dir, '--yes']);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain('refused VM/cap-big spec.memory');
    expect(await vmRecord(w, 'cap-big')).toBeUndefined();
    expect(await vmRecord(w, 'cap-disk')).toBeUndefined();
    expect((await vmRecord(w, 'cap-small'))?.rec['power_state']).toBe('Halted');
  });
});

describe('a shrink is an error everywhere', () => {
  it('plan and apply exit 1, and the controller shows the VM refused', async () => {
    const grown = vmWith('shrink-vm', ['memory: 1GiB', 'powerState: halted', 'disks:', '  - {name: data, size: 20GiB}']);
    const dir = await folder('shrink', { 'vm.yaml': grown });
    await applyHere(dir);

    await writeFile(join(dir, 'vm.yaml'), grown.replace('size: 20GiB', 'size: 10GiB').replace('memory: 1GiB', 'memory: 2GiB'));
    const plan = await xops(['plan', dir, '--detailed-exitcode']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/refused VM\/shrink-vm spec\.disks\[data\]\.size: shrinking a disk would lose data \(20 GiB → 10 GiB\)/);
    // The rest of the change goes ahead; the exit status says the pool still differs from Git.
    const apply = await xops(['apply', dir, '--yes']);
    expect(apply.code).toBe(1);
    expect((await vmRecord(w, 'shrink-vm'))?.rec['memory_static_max']).toBe(2 * GiB);

    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }));
    const s = await until('the refusal in /status', () => status(c), (x) => x.resources.some((r) => r.state === 'refused'));
    expect(s.resources).toEqual([{ address: 'VM/shrink-vm', state: 'refused', reason: expect.stringMatching(/^spec\.disks\[data\]\.size: shrinking a disk would lose data/) }]);
    expect(s.lastReconcile?.result).toBe('failure');
    expect(s.lastReconcile?.error).toMatch(/1 change\(s\) refused: VM\/shrink-vm spec\.disks\[data\]\.size/);
    expect(await metrics(c)).toMatch(/^xops_refused_resources\{state="refused"\} 1$/m);
  });
});

describe('references', () => {
  it('removing a network manifest a VM still uses is refused, naming the VM file; the network stays', async () => {
    const network = ['apiVersion: xops/v1', 'kind: Network', 'metadata:', '  name: ref-lan', 'spec:', '  vlan: {tag: 321, device: eth1}', ''].join('\n');
    const dir = await folder('still-used', {
      'net.yaml': network,
      'vm.yaml': vmWith('ref-vm', ['memory: 1GiB', 'powerState: halted', 'networks:', '  - network: ref-lan']),
      'policy.yaml': policyManifest('prune', ['prune: true']),
    });
    await applyHere(dir);
    await unlink(join(dir, 'net.yaml'));

    // The operator allows pruning for this run (limits.prune); the repository's policy asks for it.
    const plan = await xops(['plan', dir, '--detailed-exitcode', '--allow-prune']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/refused Network\/ref-lan metadata\.name: its manifest was removed, but VM\/ref-vm \(.*vm\.yaml:\d+\) still uses it at spec\.networks\[0\]\.network: not deleted/);
    await applyHere(dir);
    expect(await w.other.call<string[]>('network.get_by_name_label', 'ref-lan')).toHaveLength(1);
  });
});

describe('a denied manifest', () => {
  it('shows as denied in /status, with the rule, and is counted', async () => {
    const dir = await folder('denied', {
      'vm.yaml': vmManifest('denied-vm', { powerState: 'halted' }),
      'policy.yaml': [
        'apiVersion: xops/v1', 'kind: Policy', 'metadata:', '  name: owners', 'spec:', '  admission:', '    - name: vm-has-owner',
        '      match: {kinds: [VM]}', '      require: {properties: {metadata: {required: [labels]}}}', '      severity: deny',
        '      message: every VM needs an owner label', '',
      ].join('\n'),
    });
    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }));
    const s = await until('the denial in /status', () => status(c), (x) => x.resources.some((r) => r.state === 'denied'));
    expect(s.resources).toEqual([{ address: 'VM/denied-vm', state: 'denied', reason: expect.stringMatching(/^every VM needs an owner label \(Policy\/owners rule vm-has-owner\)/) }]);
    expect(s.lastReconcile?.result).toBe('invalid');
    expect(await metrics(c)).toMatch(/^xops_refused_resources\{state="denied"\} 1$/m);
    expect(await vmRecord(w, 'denied-vm')).toBeUndefined();
  });
});
