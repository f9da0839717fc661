/**
 * The main mode, Git, on the shipped examples as they are: a repository made from `examples/`
 * unchanged is accepted and applied by `xops run --repo`, `/readyz` is ready only once a commit is
 * in force, the working tree stays clean (the Git cache lives in the user's cache directory), and
 * stopping says the pool is released. `xops diff` on the same repository names both refs.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { ROOT, cleanEnv, finished, startXops, xops } from './helpers.js';

const run = promisify(execFile);
let work: string;
let repo: string;

const git = (...args: string[]) => run('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: repo });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'xops-git-mode-'));
  repo = join(work, 'infra');
  await cp(join(ROOT, 'examples'), repo, { recursive: true });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'examples as shipped');
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('xops run --repo on a Git repository of the examples', () => {
  it('applies the first commit and is ready with it in force, leaves the working tree clean, and says so when it stops', async () => {
    const cache = join(work, 'cache');
    const env = cleanEnv({ XDG_CACHE_HOME: cache, XOPS_SECRET_SMB_ARCHIVE_PASSWORD: 'demo-only', NO_COLOR: '1' });
    const controller = startXops(['run', '--repo', repo, '--sim', 'demo', '--sim-port', '0', '--listen', '127.0.0.1:0', '--log-format', 'text'], { cwd: repo, env });
    const watching = await controller.waitFor('stdout', /^xops is watching /);
    const url = /status at (http:\/\/[^/]+)\/status/.exec(watching)![1];
    await controller.waitFor('stdout', /^Apply complete: 14 succeeded, 0 failed, 0 skipped, 0 held/);
    await controller.waitFor('stdout', /INFO\s+reconcile finished/);

    const head = (await git('rev-parse', 'HEAD')).stdout.trim();
    const status = (await (await fetch(`${url}/status`)).json()) as { commit?: string; rejected?: unknown; resources: { state: string }[] };
    expect(status.commit).toBe(head);
    expect(status.rejected).toBeUndefined();
    expect(status.resources.length).toBeGreaterThan(0);
    expect(status.resources.every((r) => r.state === 'synced')).toBe(true);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);

    controller.process.kill('SIGTERM');
    const stopped = await finished(controller.process);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout.trimEnd().split('\n').at(-1)).toBe('xops stopped: pool lease released, logged out of the pool');

    expect((await git('status', '--porcelain', '--ignored')).stdout).toBe('');
    // Everything the controller keeps is in the user's cache folder: the Git cache, its lease identity, its history.
    const kept = await readdir(join(cache, 'xops'));
    expect(kept.filter((f) => !/^lease-holder-.*\.json$|\.history\.json$/.test(f))).toHaveLength(1);
  });

  it('xops diff names the base and the head in its heading', async () => {
    const sim: Simulator = await startSimulator({ port: 0, seed: 'demo' });
    try {
      await writeFile(join(repo, 'vms/lab.yaml'), 'apiVersion: xops/v1\nkind: VM\nmetadata: {name: lab, labels: {owner: me}}\nspec: {template: Debian Bookworm 12, vcpus: 1, memory: 1GiB}\n');
      await git('add', '-A');
      await git('commit', '-q', '-m', 'a lab VM');
      const base = (await git('rev-parse', 'main~1')).stdout.trim();
      const head = (await git('rev-parse', 'main')).stdout.trim();
      const env = cleanEnv({ XOPS_XAPI_URL: sim.url, XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' });
      const { code, stdout } = await xops(['diff', '--base', 'main~1', '--head', 'main', '.'], { cwd: repo, env });
      expect(code).toBe(0);
      expect(stdout.split('\n')[0]).toBe(`### xops diff \`main~1\` (${base.slice(0, 12)}) → \`main\` (${head.slice(0, 12)})`);
      expect(stdout).toMatch(/`VM\/lab` \| create \| none \| .* \| introduced \|/);
    } finally {
      await sim.stop();
    }
  });
});
