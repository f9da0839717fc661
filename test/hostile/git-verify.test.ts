import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReconcileLoop } from '../../src/controller/loop.js';
import { StatusStore } from '../../src/controller/status.js';
import { GitSource } from '../../src/source/git-source.js';

// Real keys (ssh-keygen) and a real repository; verification is git's own `verify-commit` with
// gpg.ssh.allowedSignersFile (git: gpg-interface.c, verify_ssh_signed_buffer).
async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'xops-verify-'));
  for (const k of ['trusted', 'stranger']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', k, '-f', join(dir, k)]);
  const allowed = join(dir, 'allowed_signers');
  await writeFile(allowed, `ops@example.com namespaces="git" ${(await readFile(join(dir, 'trusted.pub'), 'utf8')).trim()}\n`);
  const repo = join(dir, 'repo');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } }).trim();
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  git('config', 'user.email', 'dev@example.com');
  git('config', 'user.name', 'dev');
  /** Commits `content` as vm.yaml, signed with `key` (or unsigned), and returns the commit id. */
  const commit = async (content: string, key?: 'trusted' | 'stranger') => {
    await writeFile(join(repo, 'vm.yaml'), content);
    git('add', '-A');
    git(...(key ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${join(dir, `${key}.pub`)}`, 'commit', '-q', '-S', '-m', content] : ['commit', '-q', '-m', content]));
    return git('rev-parse', 'HEAD');
  };
  const source = new GitSource({ url: repo, branch: 'main', cacheRoot: join(dir, 'cache'), verify: { allowedSigners: allowed } });
  return { commit, source };
}

describe('git.verify: signed-commit verification', () => {
  it('reads a commit signed by an allowed signer, and refuses unsigned and unknown-key commits without reading them', async () => {
    const { commit, source } = await setup();
    const good = await commit('# good\n', 'trusted');
    const snap = await source.sync();
    expect(snap).toMatchObject({ commit: good });
    expect(snap.untrusted).toBeUndefined();
    expect(snap.files.map((f) => f.path)).toEqual(['vm.yaml']);

    const unsigned = await commit('# unsigned\n');
    const u = await source.sync();
    expect(u).toEqual({ commit: unsigned, files: [], untrusted: `commit ${unsigned.slice(0, 12)} is not signed; git.verify accepts only signed commits` });

    const stranger = await commit('# stranger\n', 'stranger');
    const s = await source.sync();
    expect(s.files).toEqual([]);
    expect(s.untrusted).toBe(`commit ${stranger.slice(0, 12)} is not signed by a trusted key (git verify-commit: No principal matched.)`);
  });

  it('in the controller loop, an untrusted commit is rejected with the reason in /status and the last good commit stays in force', async () => {
    const { commit, source } = await setup();
    const good = await commit('# good\n', 'trusted');
    const status = new StatusStore(source.description);
    const reconciled: string[] = [];
    const loop = new ReconcileLoop({ source, status, reconcile: async (input) => (reconciled.push(input.commit), { ok: true }), pollIntervalMs: 0, resyncIntervalMs: 0 });
    loop.start();
    await loop.idle();
    expect(reconciled).toEqual([good]);

    const bad = await commit('# stranger\n', 'stranger');
    loop.request('webhook');
    await loop.idle();
    // The untrusted commit never reached reconcile; the pool stays at the good one.
    expect(reconciled).toEqual([good]);
    const snap = status.snapshot() as { rejected?: { commit: string; diagnostics: string[] }; lastApplied?: { commit: string } };
    expect(snap.rejected?.commit).toBe(bad);
    expect(snap.rejected?.diagnostics).toEqual([`commit ${bad.slice(0, 12)} is not signed by a trusted key (git verify-commit: No principal matched.)`]);
    await loop.stop();
  });
});
