import { renameSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/git-source.js';
import { SourceError, type SourceSnapshot } from '../../src/source/types.js';
import { git, GitFixture } from './git-fixture.js';

const fixtures: GitFixture[] = [];
function fixture(branch?: string): GitFixture {
  const f = new GitFixture(branch);
  fixtures.push(f);
  return f;
}
afterEach(() => {
  for (const f of fixtures.splice(0)) f.cleanup();
});

function contents(snapshot: SourceSnapshot): Record<string, string> {
  return Object.fromEntries(snapshot.files.map((f) => [f.path, f.content.toString('utf8')]));
}

describe('GitSource', () => {
  it('reads the manifests of the sub-folder and the small files they may name, at the branch head, with paths relative to the folder', async () => {
    const f = fixture();
    f.write({
      'prod/vms/web.yaml': 'kind: VM\n',
      'prod/pool.yml': 'kind: Pool\n',
      'prod/vms/web.user-data': '#cloud-config\n',
      'prod/.hidden/secret.txt': 'not carried: hidden',
      'prod/big.iso': 'x'.repeat(1024 * 1024 + 1),
      'staging/vm.yaml': 'kind: VM # other environment\n',
    });
    const commit = f.commit('first');
    const source = new GitSource({ url: f.remote, branch: 'main', path: 'prod', cacheRoot: f.cacheRoot });
    const snapshot = await source.sync();
    expect(snapshot.commit).toBe(commit);
    // A companion file of at most 1 MiB comes along (a VM's cloudInit may name it); hidden and larger ones do not.
    expect(contents(snapshot)).toEqual({ 'pool.yml': 'kind: Pool\n', 'vms/web.user-data': '#cloud-config\n', 'vms/web.yaml': 'kind: VM\n' });
  });

  it('picks up a new commit on the next sync, reusing the cache it cloned once', async () => {
    const f = fixture();
    f.write({ 'a.yaml': 'v: 1\n' });
    f.commit('one');
    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    await source.sync();
    f.write({ 'a.yaml': 'v: 2\n', 'b.yaml': 'new\n' });
    const second = f.commit('two');
    const again = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    expect(again.cacheDir).toBe(source.cacheDir);
    const snapshot = await again.sync();
    expect(snapshot.commit).toBe(second);
    expect(contents(snapshot)).toEqual({ 'a.yaml': 'v: 2\n', 'b.yaml': 'new\n' });
  });

  it('reads only the blobs a new commit changed: the other files come back as the same bytes, the same objects', async () => {
    const f = fixture();
    f.write({ 'a.yaml': 'v: 1\n', 'b.yaml': 'same\n', 'c.yaml': 'same\n' });
    f.commit('one');
    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    const first = await source.sync();
    f.write({ 'a.yaml': 'v: 2\n' });
    f.commit('two');
    const second = await source.sync();
    expect(contents(second)).toEqual({ 'a.yaml': 'v: 2\n', 'b.yaml': 'same\n', 'c.yaml': 'same\n' });
    const byPath = (s: SourceSnapshot, path: string) => s.files.find((file) => file.path === path)!.content;
    // Kept by object id: the loader's parse cache knows these Buffers without digesting them again.
    expect(byPath(second, 'b.yaml')).toBe(byPath(first, 'b.yaml'));
    expect(byPath(second, 'c.yaml')).toBe(byPath(first, 'b.yaml'));
    expect(byPath(second, 'a.yaml')).not.toBe(byPath(first, 'a.yaml'));
    // No new commit: the same files, without reading the tree again.
    expect((await source.sync()).files).toBe(second.files);
  });

  it('follows a force-push that rewrites history (non-fast-forward)', async () => {
    const f = fixture();
    f.write({ 'a.yaml': 'v: 1\n' });
    const base = f.commit('base');
    f.write({ 'a.yaml': 'v: 2\n' });
    f.commit('to be rewritten');
    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    await source.sync();
    git(f.work, 'reset', '--quiet', '--hard', base);
    f.write({ 'a.yaml': 'v: 3\n' });
    const rewritten = f.commit('rewritten', { force: true });
    const snapshot = await source.sync();
    expect(snapshot.commit).toBe(rewritten);
    expect(contents(snapshot)).toEqual({ 'a.yaml': 'v: 3\n' });
  });

  it('follows the remote default branch when no branch is configured', async () => {
    const f = fixture('trunk');
    f.write({ 'a.yaml': 'on trunk\n' });
    const commit = f.commit('one');
    const snapshot = await new GitSource({ url: f.remote, cacheRoot: f.cacheRoot }).sync();
    expect(snapshot.commit).toBe(commit);
  });

  it('reports an unreachable remote and keeps the last good commit readable from the cache', async () => {
    const f = fixture();
    f.write({ 'a.yaml': 'v: 1\n' });
    const good = f.commit('one');
    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    await source.sync();
    renameSync(f.remote, f.remote + '.gone');
    const failure = await source.sync().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as Error).message).toMatch(/fetch main failed/);
    expect(await source.fetchedCommit()).toBe(good);
    expect(contents(await source.read(good))).toEqual({ 'a.yaml': 'v: 1\n' });
  });

  it('reports a branch the remote does not have', async () => {
    const f = fixture();
    f.write({ 'a.yaml': 'x\n' });
    f.commit('one');
    const source = new GitSource({ url: f.remote, branch: 'nope', cacheRoot: f.cacheRoot });
    await expect(source.sync()).rejects.toThrow(/fetch nope failed/);
  });

  // Each case is a tree the folder must refuse or accept, because a manifest folder must never
  // make the controller read something outside it.
  const symlinkCases: { why: string; links: Record<string, string>; expect: RegExp | Record<string, string> }[] = [
    { why: 'a link out of the folder into the rest of the repo', links: { 'prod/leak.yaml': '../secrets.yaml' }, expect: /leak.yaml: symlink to '..\/secrets.yaml' leaves/ },
    { why: 'an absolute link to the controller host', links: { 'prod/passwd.yaml': '/etc/passwd' }, expect: /leaves the manifests folder/ },
    { why: 'an escaping link is refused even when its name is not a manifest', links: { 'prod/data': '../../..' }, expect: /data: symlink/ },
    { why: 'a link to a file inside the folder is followed', links: { 'prod/alias.yaml': 'real.yaml' }, expect: { 'alias.yaml': 'kind: VM\n', 'real.yaml': 'kind: VM\n' } },
    { why: 'a link to a folder inside is expanded under its own name', links: { 'prod/more': 'sub' }, expect: { 'more/x.yaml': 'x\n', 'real.yaml': 'kind: VM\n', 'sub/x.yaml': 'x\n' } },
  ];
  it.each(symlinkCases)('symlinks: $why', async (c) => {
    const f = fixture();
    f.write({ 'prod/real.yaml': 'kind: VM\n', 'secrets.yaml': 'password: x\n' });
    if (Object.values(c.links).includes('sub')) f.write({ 'prod/sub/x.yaml': 'x\n' });
    for (const [path, target] of Object.entries(c.links)) f.symlink(path, target);
    f.commit('links');
    const source = new GitSource({ url: f.remote, branch: 'main', path: 'prod', cacheRoot: f.cacheRoot });
    if (c.expect instanceof RegExp) await expect(source.sync()).rejects.toThrow(c.expect);
    else expect(contents(await source.sync())).toEqual(c.expect);
  });

  it('refuses a manifests folder that is itself a symlink out of the folder tree', async () => {
    const f = fixture();
    f.write({ 'real/a.yaml': 'x\n' });
    f.symlink('prod', 'real');
    f.commit('folder link');
    const source = new GitSource({ url: f.remote, branch: 'main', path: 'prod', cacheRoot: f.cacheRoot });
    await expect(source.sync()).rejects.toThrow(/manifests folder is a symlink/);
  });

  it('reports a sub-folder missing at the commit', async () => {
    const f = fixture();
    f.write({ 'a.yaml': 'x\n' });
    f.commit('one');
    const source = new GitSource({ url: f.remote, branch: 'main', path: 'clusters/prod', cacheRoot: f.cacheRoot });
    await expect(source.sync()).rejects.toThrow(/clusters\/prod: no such folder/);
  });

  it('refuses a configured folder that leaves the repository', () => {
    expect(() => new GitSource({ url: '/tmp/x', path: '../etc' })).toThrow(SourceError);
    expect(() => new GitSource({ url: '/tmp/x', path: '/etc' })).toThrow(SourceError);
  });

  it('keeps credentials in the URL out of its description and errors', async () => {
    const source = new GitSource({ url: 'http://user:s3cret@127.0.0.1:9/repo.git', branch: 'main', cacheRoot: fixture().cacheRoot, timeoutMs: 5000 });
    expect(source.description).not.toContain('s3cret');
    const failure = (await source.sync().catch((e: unknown) => e)) as Error;
    expect(failure).toBeInstanceOf(SourceError);
    expect(failure.message).not.toContain('s3cret');
  });
});
