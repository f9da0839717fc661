/**
 * The "billion laughs" of symlinks: `level0/` holds one manifest; `level1/` holds 65 links to
 * `../level0`, `level2/` 65 links to `../level1`, and so on. No link loops and no chain is long, yet
 * following them naively yields 65^4 (17.8 million) copies of the manifest: the controller once spent
 * 3.8 GB on it and died. Every reader must refuse it within its budget, or read each folder once;
 * none may expand it. (A link to its own folder is the other shape, refused by the hop limit.)
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readManifestFolder } from '../../src/manifests/index.js';
import { GitSource } from '../../src/source/git-source.js';
import { LocalSource } from '../../src/source/local-source.js';
import { SourceError } from '../../src/source/types.js';
import { GitFixture } from '../source/git-fixture.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const MANIFEST = 'apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: lan\nspec: {}\n';
const LINKS = 65;
const LEVELS = 4;

/** Writes the fan-out through `write` and `link` (paths relative to the manifests folder). */
function fanOut(write: (path: string, content: string) => void, link: (path: string, target: string) => void): void {
  write('level0/net.yaml', MANIFEST);
  for (let level = 1; level <= LEVELS; level++) {
    for (let i = 0; i < LINKS; i++) link(`level${level}/l${String(i).padStart(2, '0')}`, `../level${level - 1}`);
  }
}

function inFolder(dir: string): void {
  fanOut(
    (path, content) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    },
    (path, target) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      symlinkSync(target, join(dir, path));
    },
  );
}

const REFUSED = /level\d\/l\d\d\/.*: more than (20000 manifest files \(symlinked copies included\)|100000 paths in the manifests folder \(symlink expansion included\))/;

describe('a 65-entry symlink fan-out', () => {
  it('is refused by the Git source, naming the path where the budget ran out', async () => {
    const f = new GitFixture('main');
    cleanups.push(() => f.cleanup());
    fanOut((path, content) => f.write({ [path]: content }), (path, target) => f.symlink(path, target));
    const commit = f.commit('fan-out');
    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    const failure = await source.sync().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(SourceError);
    const message = (failure as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message.startsWith(`${commit}:./level`)).toBe(true);
    expect(message).toMatch(REFUSED);
  });

  it('is refused by the watched folder source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xops-fanout-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    inFolder(dir);
    const source = new LocalSource({ dir });
    cleanups.push(() => source.close());
    await expect(source.sync()).rejects.toThrow(REFUSED);
  });

  it('is read once by the CLI folder reader, which never walks a folder twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xops-fanout-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    inFolder(dir);
    const read = await readManifestFolder(dir);
    expect(read.files.map((f) => f.path)).toEqual(['level0/net.yaml']);
  });

  it('is refused when the links point at their own folder (a loop), by the hop limit', async () => {
    const f = new GitFixture('main');
    cleanups.push(() => f.cleanup());
    f.write({ 'net.yaml': MANIFEST });
    for (let i = 0; i < LINKS; i++) f.symlink(`l${i}`, '.');
    f.commit('self links');
    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    await expect(source.sync()).rejects.toThrow(/l0\/l0\/.*: too many levels of symlinks/);
  });
});

describe('symlink expansion counts the bytes it adds', () => {
  it('refuses 200 links to one 600 KB manifest (120 MB expanded, limit 64 MiB) before reading them', async () => {
    const f = new GitFixture('main');
    cleanups.push(() => f.cleanup());
    f.write({ 'big.yaml': `# ${'x'.repeat(600_000)}\n${MANIFEST}` });
    for (let i = 0; i < 200; i++) f.symlink(`copy${i}.yaml`, 'big.yaml');
    f.commit('copies');
    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    await expect(source.sync()).rejects.toThrow(/copy\d+\.yaml: manifests add up to more than 67108864 bytes \(symlinked copies included\)/);
  });

  it('counts the same way in a local folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xops-copies-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'big.yaml'), `# ${'x'.repeat(600_000)}\n${MANIFEST}`);
    for (let i = 0; i < 4; i++) symlinkSync('big.yaml', join(dir, `copy${i}.yaml`));
    const source = new LocalSource({ dir, limits: { maxTotalBytes: 2_000_000 } });
    cleanups.push(() => source.close());
    await expect(source.sync()).rejects.toThrow(/copy\d\.yaml: manifests add up to more than 2000000 bytes/);
  });
});
