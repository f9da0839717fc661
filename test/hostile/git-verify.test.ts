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

  it('with a GnuPG home: a commit signed by a key in it is read, one signed by a key not in it is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xops-verify-gpg-'));
    const home = (name: string) => {
      const h = join(dir, name);
      execFileSync('mkdir', ['-m', '700', h]);
      return h;
    };
    const signer = home('signer');
    const trusted = home('trusted');
    const empty = home('empty');
    const gpg = (gnupghome: string, ...args: string[]) => execFileSync('gpg', ['--batch', '--quiet', ...args], { env: { ...process.env, GNUPGHOME: gnupghome } });
    gpg(signer, '--passphrase', '', '--quick-gen-key', 'ops <ops@example.com>', 'ed25519', 'sign', 'never');
    const pub = join(dir, 'pub.asc');
    await writeFile(pub, gpg(signer, '--export', 'ops@example.com'));
    gpg(trusted, '--import', pub);
    const repo = join(dir, 'repo');
    const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GNUPGHOME: signer };
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    await writeFile(join(repo, 'vm.yaml'), '# gpg\n');
    execFileSync('git', ['-c', 'user.email=dev@example.com', '-c', 'user.name=dev', '-c', 'user.signingkey=ops@example.com', 'add', '-A'], { cwd: repo, env });
    execFileSync('git', ['-c', 'user.email=dev@example.com', '-c', 'user.name=dev', '-c', 'user.signingkey=ops@example.com', 'commit', '-q', '-S', '-m', 'gpg'], { cwd: repo, env });
    const accepted = await new GitSource({ url: repo, branch: 'main', cacheRoot: join(dir, 'c1'), verify: { gpgKeyring: trusted } }).sync();
    expect(accepted.untrusted).toBeUndefined();
    expect(accepted.files.map((f) => f.path)).toEqual(['vm.yaml']);
    const refused = await new GitSource({ url: repo, branch: 'main', cacheRoot: join(dir, 'c2'), verify: { gpgKeyring: empty } }).sync();
    expect(refused.files).toEqual([]);
    expect(refused.untrusted).toMatch(/^commit [0-9a-f]{12} is not signed by a trusted key \(git verify-commit: .*NO_PUBKEY/);
    // gpg started an agent per home: stop them, so the test leaves no process behind.
    for (const h of [signer, trusted, empty]) execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: h } });
  });
});
