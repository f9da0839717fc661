/**
 * The controller's ManifestCache: a load through it is exactly the load without it (same desired
 * state, same diagnostics in the same order), however the files changed since the last load; only
 * the work differs, which its counters show.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifestFiles, readManifestFolder, type LiveInventory, type ManifestFile } from '../../src/manifests/index.js';
import { ManifestCache } from '../../src/manifests/parse-cache.js';
import { ROOT } from '../cli/helpers.js';

/** The examples' pool objects by name: enough for every live reference the examples make. */
const live: LiveInventory = { has: () => true };

async function exampleFiles(): Promise<ManifestFile[]> {
  const read = await readManifestFolder(join(ROOT, 'examples'));
  expect(read.diagnostics).toEqual([]);
  return read.files;
}

function withFile(files: ManifestFile[], path: string, text: string): ManifestFile[] {
  return files.map((f) => (f.path === path ? { path, content: Buffer.from(text) } : f));
}

describe('ManifestCache', () => {
  it('loads as the loader does, parsing each file once over repeated loads', async () => {
    const files = await exampleFiles();
    const cache = new ManifestCache();
    const uncached = loadManifestFiles(files, 'examples', { commit: 'a'.repeat(40), live });
    expect(cache.load(files, 'examples', { commit: 'a'.repeat(40), live })).toEqual(uncached);
    expect(cache.stats).toEqual({ parsed: files.length, reused: 0, resultHits: 0, deltaLoads: 0 });
    // The same files as new buffers (another request): answered whole, nothing parsed again.
    const copies = files.map((f) => ({ path: f.path, content: Buffer.from(f.content) }));
    expect(cache.load(copies, 'examples', { commit: 'a'.repeat(40), live })).toEqual(uncached);
    expect(cache.stats).toEqual({ parsed: files.length, reused: 0, resultHits: 1, deltaLoads: 0 });
  });

  it('records where a reused load came from: another commit and folder are the caller\'s', async () => {
    const files = await exampleFiles();
    const cache = new ManifestCache();
    cache.load(files, 'examples', { commit: 'a'.repeat(40), live });
    const local = cache.load(files, 'checkout', { commit: 'local', live });
    expect(local).toEqual(loadManifestFiles(files, 'checkout', { commit: 'local', live }));
    expect(local.desired.source).toEqual({ commit: 'local', path: 'checkout' });
  });

  it('re-parses and re-validates a changed file only, and reports its new errors as the loader does', async () => {
    const files = await exampleFiles();
    const cache = new ManifestCache();
    cache.load(files, 'examples', { live });
    const app = files.find((f) => f.path === 'vms/app-01.yaml')!;
    const broken = withFile(files, app.path, app.content.toString().replace(/vcpus: \d+/, 'vcpus: lots'));
    const result = cache.load(broken, 'examples', { live });
    expect(result).toEqual(loadManifestFiles(broken, 'examples', { live }));
    expect(result.diagnostics.some((d) => d.severity === 'error' && d.location?.file === 'vms/app-01.yaml')).toBe(true);
    expect(cache.stats).toMatchObject({ parsed: files.length + 1, reused: files.length - 1 });
    // Back as it was: the first parse of that content is still there.
    expect(cache.load(files, 'examples', { live }).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('checks references again against another pool inventory, never reusing a whole load across them', async () => {
    const files = await exampleFiles();
    const cache = new ManifestCache();
    cache.load(files, 'examples', { live });
    const noNetworks: LiveInventory = { has: (kind) => kind !== 'Network' };
    const result = cache.load(files, 'examples', { live: noNetworks });
    expect(result).toEqual(loadManifestFiles(files, 'examples', { live: noNetworks }));
    expect(cache.stats.resultHits).toBe(0);
  });

  it('counts cached files against the commit-wide node budget as fresh ones, refusing the same files', () => {
    const doc = (name: string) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: 1500\n`;
    const files: ManifestFile[] = ['a', 'b', 'c', 'd'].map((n) => ({ path: `networks/${n}.yaml`, content: Buffer.from(doc(n)) }));
    const cache = new ManifestCache();
    // Every file cached under the default budget; under a budget of 20 nodes the third one passes
    // it, and is parsed afresh so that the refusal names the same file and place.
    cache.load(files, 'repo', {});
    const limits = { maxNodes: 20 };
    const fresh = loadManifestFiles(files, 'repo', { limits });
    expect(fresh.diagnostics.some((d) => /YAML nodes over the commit/.test(d.message))).toBe(true);
    expect(cache.load(files, 'repo', { limits })).toEqual(fresh);
  });

  it('keeps at most maxFiles files, dropping the least recently used', async () => {
    const files = await exampleFiles();
    const cache = new ManifestCache({ maxFiles: 3 });
    const result = cache.load(files, 'examples', { live });
    expect(result).toEqual(loadManifestFiles(files, 'examples', { live }));
    expect(cache.size).toBe(3);
  });

  it('parses a file again once it was evicted, though its buffer was looked up while cached', async () => {
    const files = (await exampleFiles()).filter((f) => f.path.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    const first = files.slice(0, 3);
    const second = files.slice(3, 6);
    const cache = new ManifestCache({ maxFiles: 3, maxResults: 1 });
    // The first three are cached, and each buffer's entry is remembered as the set is keyed.
    expect(cache.load(first, 'examples', { live })).toEqual(loadManifestFiles(first, 'examples', { live }));
    // Three others push them out.
    cache.load(second, 'examples', { live });
    const parsed = cache.stats.parsed;
    // The first three again, against another inventory (no whole result reused): each is parsed
    // afresh, as an entry that left the cache no longer stands for its file.
    const other: LiveInventory = { has: () => true };
    expect(cache.load(first, 'examples', { live: other })).toEqual(loadManifestFiles(first, 'examples', { live: other }));
    expect(cache.stats.parsed).toBe(parsed + 3);
    expect(cache.size).toBe(3);
  });
});
