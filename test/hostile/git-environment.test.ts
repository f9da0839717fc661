/**
 * What git may do when xops fetches a hostile repository: nothing but fetch. The repository's own
 * config cannot make git run a program (a fetch copies objects, never config), git never sees the
 * controller's secrets or a `GIT_*` variable that would point it elsewhere, and it never prompts.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gitEnvironment } from '../../src/source/git-process.js';
import { GitSource } from '../../src/source/git-source.js';
import { GitFixture, git } from '../source/git-fixture.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Sets process variables for one test, restored afterwards. */
function setEnv(values: Record<string, string>): void {
  const before = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  Object.assign(process.env, values);
  cleanups.push(() => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

describe('git run by a Git source', () => {
  it('gets a minimal environment: no XOPS_* secrets, no GIT_* redirections, never a prompt', async () => {
    const f = new GitFixture('main');
    cleanups.push(() => f.cleanup());
    f.write({ 'a.yaml': 'kind: VM\n' });
    f.commit('one');
    // A `git` first on PATH that records the environment it was started with, then runs the real one.
    const bin = tempDir('xops-gitwrap-');
    const dumps = join(bin, 'dumps');
    mkdirSync(dumps);
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'git'), `#!/bin/sh\nenv > "${dumps}/env.$$"\nexec "${realGit}" "$@"\n`);
    chmodSync(join(bin, 'git'), 0o755);
    setEnv({
      PATH: `${bin}:${process.env.PATH}`,
      XOPS_XAPI_PASSWORD: 'hunter2',
      XOPS_WEBHOOK_SECRET: 'shh',
      GIT_DIR: '/nonexistent',
      GIT_CONFIG_GLOBAL: '/nonexistent/gitconfig',
      GIT_SSH_COMMAND: 'touch /tmp/xops-should-not-run',
      GIT_TERMINAL_PROMPT: '1',
    });

    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    const snapshot = await source.sync();
    expect(snapshot.files.map((x) => x.path)).toEqual(['a.yaml']);

    const envs = readdirSync(dumps).map((name) => readFileSync(join(dumps, name), 'utf8'));
    // init, fetch, rev-parse, ls-tree, cat-file: every one of them, through simple-git or not.
    expect(envs.length).toBeGreaterThanOrEqual(4);
    for (const env of envs) {
      expect(env).not.toMatch(/^XOPS_/m);
      expect(env).not.toContain('hunter2');
      expect(env).not.toMatch(/^GIT_(DIR|CONFIG_GLOBAL|SSH_COMMAND)=/m);
      expect(env).toMatch(/^GIT_TERMINAL_PROMPT=0$/m);
    }
  });

  it('keeps only the variables git needs, whatever the parent holds', () => {
    const env = gitEnvironment({
      PATH: '/usr/bin',
      HOME: '/home/xops',
      SSH_AUTH_SOCK: '/run/agent',
      HTTPS_PROXY: 'http://proxy:3128',
      XOPS_PASSWORD: 'hunter2',
      GIT_ASKPASS: '/bin/evil',
      GIT_EXEC_PATH: '/tmp/evil',
      GIT_CONFIG_COUNT: '1',
      EDITOR: 'vim',
    });
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/xops',
      SSH_AUTH_SOCK: '/run/agent',
      HTTPS_PROXY: 'http://proxy:3128',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh',
      LC_ALL: 'C',
    });
  });

  it('never runs a program named in the fetched repository’s config or hooks', async () => {
    const f = new GitFixture('main');
    cleanups.push(() => f.cleanup());
    f.write({ 'a.yaml': 'kind: VM\n' });
    f.commit('one');
    const marks = tempDir('xops-marks-');
    const run = (name: string) => `touch ${join(marks, name)}`;
    // The remote repository is the attacker's: every config key that names a program, and hooks.
    for (const [key, value] of Object.entries({
      'core.fsmonitor': run('fsmonitor'),
      'core.sshCommand': run('sshCommand'),
      'core.gitProxy': run('gitProxy'),
      'core.pager': run('pager'),
      'core.askPass': run('askPass'),
      'uploadpack.packObjectsHook': run('packObjectsHook'),
      'core.hooksPath': join(f.remote, 'evil-hooks'),
    })) {
      git(f.remote, 'config', key, value);
    }
    mkdirSync(join(f.remote, 'evil-hooks'));
    for (const hook of ['pre-upload-pack', 'post-upload-pack', 'reference-transaction', 'post-checkout', 'fsmonitor-watchman']) {
      writeFileSync(join(f.remote, 'evil-hooks', hook), `#!/bin/sh\n${run(hook)}\n`);
      chmodSync(join(f.remote, 'evil-hooks', hook), 0o755);
    }

    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    expect((await source.sync()).files.map((x) => x.path)).toEqual(['a.yaml']);
    // The test's own push would run the remote's hooks (receive-pack is the remote's): lift them for it.
    git(f.remote, 'config', '--unset', 'core.hooksPath');
    f.write({ 'b.yaml': 'kind: VM\n' });
    f.commit('two');
    git(f.remote, 'config', 'core.hooksPath', join(f.remote, 'evil-hooks'));
    expect((await source.sync()).files.map((x) => x.path)).toEqual(['a.yaml', 'b.yaml']);

    expect(readdirSync(marks)).toEqual([]);
    // The cache's own config is xops's: nothing of the remote's came with the fetch.
    const cacheConfig = readFileSync(join(source.cacheDir, 'config'), 'utf8');
    expect(cacheConfig).not.toMatch(/fsmonitor|sshCommand|hooksPath|packObjectsHook/i);
    expect(existsSync(join(source.cacheDir, 'evil-hooks'))).toBe(false);
  });
});
