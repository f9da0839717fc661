/**
 * `xops plan` and `xops diff` as an operator runs them: the built CLI in a child process, against
 * the simulator's demo pool over HTTP, on the shipped examples and on a real temporary Git repo.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/sim/index.js';
import type { Plan } from '../../src/model/plan.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');

let sim: Awaited<ReturnType<typeof startSimulator>>;
let env: NodeJS.ProcessEnv;
let work: string;

async function xops(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  env = { ...process.env, XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' };
  work = await mkdtemp(join(tmpdir(), 'xops-plan-'));
});
afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('xops plan examples (demo pool)', () => {
  it('lists the creates, exits 2 with --detailed-exitcode, and never touches the unmanaged VMs', async () => {
    const saved = join(work, 'plan.json');
    const { code, stdout, stderr } = await xops(['plan', 'examples', '--out', 'json', '--detailed-exitcode', '--save', saved]);
    expect(stderr).toBe('');
    expect(code).toBe(2);
    const plan = JSON.parse(stdout) as Plan;
    const creates = plan.actions.filter((a) => a.operation === 'create').map((a) => a.address);
    expect(creates).toEqual(expect.arrayContaining(['Network/prod-vlan100', 'VM/web-01', 'VM/db-01', 'VMAppliance/shop']));
    const text = JSON.stringify(plan.actions);
    expect(text).not.toContain('legacy-web01');
    expect(text).not.toContain('backup-appliance');
    // The saved file is the plan plus the digest apply --plan verifies.
    const { digest, ...content } = JSON.parse(await readFile(saved, 'utf8')) as Plan & { digest: string };
    expect(content).toEqual(plan);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('prints the text plan with the summary line last', async () => {
    const { code, stdout } = await xops(['plan', 'examples']);
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n').at(-1)).toMatch(/^Plan: \d+ to create, \d+ to update, 0 to replace, 0 to delete — 0 need a reboot, 0 cause downtime, 0 destructive$/);
    expect(stdout).not.toContain('\x1b[');
  });

  it('refuses to plan from manifests with errors, saying where they are', async () => {
    const dir = join(work, 'broken');
    await cp(join(ROOT, 'examples'), dir, { recursive: true });
    await writeFile(join(dir, 'vms', 'bad.yaml'), 'apiVersion: xops/v1\nkind: VM\nmetadata: {name: bad}\nspec: {vcpus: "many"}\n');
    const { code, stdout, stderr } = await xops(['plan', dir, '--detailed-exitcode']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/vms\/bad\.yaml:\d+:\d+: VM\/bad/);
  });
});

describe('xops diff on a real Git repository', () => {
  it('marks only what the head commit introduces, reading commits without touching the working tree', async () => {
    const repo = join(work, 'repo');
    await cp(join(ROOT, 'examples'), join(repo, 'infra'), { recursive: true });
    const git = (...args: string[]) => run('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo });
    await git('init', '-q', '-b', 'main');
    await git('add', '.');
    await git('commit', '-q', '-m', 'base');
    await writeFile(join(repo, 'infra', 'vms', 'cache.yaml'),
      'apiVersion: xops/v1\nkind: VM\nmetadata: {name: cache-01, labels: {owner: shop-team}}\nspec:\n  template: Debian Bookworm 12\n  vcpus: 1\n  memory: 1GiB\n  powerState: halted\n');
    await git('add', '.');
    await git('commit', '-q', '-m', 'add cache');
    // An uncommitted edit must not leak into either side.
    await writeFile(join(repo, 'infra', 'vms', 'scratch.yaml'),
      'apiVersion: xops/v1\nkind: VM\nmetadata: {name: scratch, labels: {owner: shop-team}}\nspec: {template: Debian Bookworm 12, vcpus: 1, memory: 1GiB}\n');

    const { code, stdout, stderr } = await xops(['diff', '--base', 'HEAD~1', '--head', 'HEAD', 'infra', '--out', 'json'], repo);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const plan = JSON.parse(stdout) as Plan;
    const introduced = plan.actions.filter((a) => a.introduced).map((a) => a.id);
    expect(introduced).toEqual(['create:VM/cache-01']);
    expect(plan.actions.some((a) => a.address === 'VM/web-01' && a.introduced === false)).toBe(true);
    expect(plan.actions.some((a) => a.address === 'VM/scratch')).toBe(false);

    const md = await xops(['diff', '--base', 'HEAD~1', '--head', 'HEAD', 'infra'], repo);
    expect(md.stdout).toMatch(/\| 🟢 \| `VM\/cache-01` \| create \| none \| .* \| introduced \|/);
  });

  it('says which ref does not exist', async () => {
    const { code, stderr } = await xops(['diff', '--base', 'no-such-ref', '--head', 'HEAD', 'examples']);
    expect(code).toBe(1);
    expect(stderr).toContain('--base no-such-ref: no such commit');
  });
});
