/**
 * Blob sizes are known from the tree listing before any file is read: an oversized manifest, too
 * many files, or too many paths in a commit are refused with one line naming the path and the limit,
 * and nothing of the commit is handed to the loader (so nothing is applied).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSource } from '../../src/source/local-source.js';
import { GitSource } from '../../src/source/git-source.js';
import { OutputTooLarge, runGit } from '../../src/source/git-process.js';
import { readManifestTree } from '../../src/source/git-tree.js';
import type { RepositoryLimits } from '../../src/source/limits.js';
import { SourceError } from '../../src/source/types.js';
import { GitFixture, git } from '../source/git-fixture.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function fixture(): GitFixture {
  const f = new GitFixture('main');
  cleanups.push(() => f.cleanup());
  return f;
}

/** Reads the work repository's HEAD as the Git source reads a fetched commit (no remote: faster). */
function readHead(f: GitFixture, limits: Partial<RepositoryLimits> = {}) {
  return readManifestTree(undefined, join(f.work, '.git'), f.head(), '', limits);
}

async function refusal(source: GitSource | Promise<unknown>): Promise<Error> {
  const failure = await (source instanceof GitSource ? source.sync() : source).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(SourceError);
  expect((failure as Error).message.split('\n')).toHaveLength(1);
  return failure as Error;
}

describe('a commit passing the repository budget', () => {
  it('refuses a manifest larger than 1 MiB by its size, naming the file', async () => {
    const f = fixture();
    f.write({ 'small.yaml': 'kind: VM\n', 'vms/huge.yaml': `# ${'x'.repeat(2 * 1024 * 1024)}\n` });
    const commit = f.commit('huge');
    const failure = await refusal(new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot }));
    expect(failure.message).toBe(`${commit}:./vms/huge.yaml: file is 2097155 bytes, more than the limit of 1048576; refusing to read it`);
  });

  it('ignores a large file that is no manifest (an ISO, a README)', async () => {
    const f = fixture();
    f.write({ 'a.yaml': 'kind: VM\n', 'image.iso': 'x'.repeat(2 * 1024 * 1024) });
    f.commit('iso', { push: false });
    expect((await readHead(f)).map((x) => x.path)).toEqual(['a.yaml']);
  });

  it('refuses more manifest files than maxFiles', async () => {
    const f = fixture();
    f.write(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`n${i}.yaml`, 'kind: Network\n'])));
    f.commit('six', { push: false });
    const failure = await refusal(readHead(f, { maxFiles: 5 }));
    expect(failure.message).toMatch(/:\.\/n5\.yaml: more than 5 manifest files \(symlinked copies included\)/);
  });

  it('refuses manifests adding up to more than maxTotalBytes', async () => {
    const f = fixture();
    f.write({ 'a.yaml': `# ${'a'.repeat(600)}\n`, 'b.yaml': `# ${'b'.repeat(600)}\n` });
    f.commit('two', { push: false });
    const failure = await refusal(readHead(f, { maxTotalBytes: 1000 }));
    expect(failure.message).toMatch(/:\.\/b\.yaml: manifests add up to more than 1000 bytes/);
  });

  it('refuses a tree with more paths than maxEntries, manifests or not', async () => {
    const f = fixture();
    f.write(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`docs/page${i}.md`, 'text\n'])));
    f.write({ 'a.yaml': 'kind: VM\n' });
    f.commit('many paths', { push: false });
    const failure = await refusal(readHead(f, { maxEntries: 10 }));
    expect(failure.message).toMatch(/more than 10 paths in the manifests folder/);
  });

  it('refuses a symlink blob longer than any path', async () => {
    const f = fixture();
    // No file system makes such a link; a hostile repository is written with plumbing.
    f.write({ 'a.yaml': 'kind: VM\n', 'target.txt': 'x/'.repeat(3000) });
    const oid = git(f.work, 'hash-object', '-w', 'target.txt');
    f.remove('target.txt');
    git(f.work, 'add', '-A');
    git(f.work, 'update-index', '--add', '--cacheinfo', `120000,${oid},long.yaml`);
    git(f.work, 'commit', '--quiet', '-m', 'long link');
    const failure = await refusal(readHead(f));
    expect(failure.message).toMatch(/:\.\/long\.yaml: symlink target is 6000 bytes, longer than any path/);
  });

  it('refuses an oversized manifest in a watched folder by its size, before reading it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xops-sizes-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'a.yaml'), 'kind: VM\n');
    // Sparse: 2 GiB on paper, nothing on disk. Reading it whole would take the controller down.
    writeFileSync(join(dir, 'huge.yaml'), '');
    truncateSync(join(dir, 'huge.yaml'), 2 * 1024 ** 3);
    const source = new LocalSource({ dir });
    cleanups.push(() => void source.close());
    await expect(source.sync()).rejects.toThrow(`${join(dir, 'huge.yaml')}: file is 2147483648 bytes, more than the limit of 1048576; refusing to read it`);
  });

  it('stops git printing more than the caller allows', async () => {
    const f = fixture();
    f.write({ 'a.yaml': 'x'.repeat(10_000) });
    f.commit('one', { push: false });
    const oid = git(f.work, 'rev-parse', 'HEAD:a.yaml');
    await expect(runGit(join(f.work, '.git'), ['cat-file', '--batch'], { maxOutputBytes: 1000, input: `${oid}\n` })).rejects.toThrow(OutputTooLarge);
    const whole = await runGit(join(f.work, '.git'), ['cat-file', '--batch'], { maxOutputBytes: 20_000, input: `${oid}\n` });
    expect(whole.length).toBeGreaterThan(10_000);
  });
});
