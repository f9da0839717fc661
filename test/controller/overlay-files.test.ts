/**
 * A `POST /plan` overlay's file set is merged into its commit's set kept in order
 * (controller/overlay-files.ts) instead of sorted whole: it must be the set sorting gives, with the
 * digest of its paths, for any files replaced, added (twice, even) or removed.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/prng.js';
import { overlayFiles } from '../../src/controller/overlay-files.js';
import { inWalkOrder } from '../../src/manifests/folder.js';
import type { ManifestFile } from '../../src/manifests/loader.js';
import { pathsDigest } from '../../src/manifests/paths-digest.js';

const NAMES = ['a', 'a-b', 'b', 'vms', 'z.yaml', 'web.yaml', 'db.yml', 'init.cfg', 'key.pub', 'x'];

function randomPath(rand: () => number): string {
  const depth = 1 + Math.floor(rand() * 3);
  const parts: string[] = [];
  for (let i = 0; i < depth; i++) parts.push(NAMES[Math.floor(rand() * NAMES.length)]!);
  return parts.join('/');
}

const file = (path: string, tag: string): ManifestFile => ({ path, content: Buffer.from(tag) });

/** What the API did before: the whole set sorted, and its paths digested. */
function sortedWhole(base: ManifestFile[], sent: ManifestFile[], removed: string[], order: 'walk' | 'tree') {
  const replaced = new Set(removed);
  for (const f of sent) replaced.add(f.path);
  const merged = [...base.filter((f) => !replaced.has(f.path)), ...sent];
  const files = order === 'tree' ? merged.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) : inWalkOrder(merged);
  return { files, paths: pathsDigest(files.map((f) => f.path)) };
}

describe('an overlay merged into its commit\'s ordered set', () => {
  it('is the set sorting the whole gives, with the same paths digest', () => {
    let samePaths = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const paths = [...new Set(Array.from({ length: 5 + Math.floor(rand() * 40) }, () => randomPath(rand)))];
      // A commit's set comes in the source's order, which is neither of the two.
      const base = paths.map((p, i) => file(p, `base-${i}`)).sort(() => rand() - 0.5);
      const sent: ManifestFile[] = [];
      for (let n = Math.floor(rand() * 4); n > 0; n--) sent.push(file(rand() < 0.6 ? paths[Math.floor(rand() * paths.length)]! : randomPath(rand), `sent-${n}`));
      if (rand() < 0.1 && sent.length > 0) sent.push(file(sent[0]!.path, 'sent-again'));
      const removed = rand() < 0.3 ? [paths[Math.floor(rand() * paths.length)]!] : [];
      for (const order of ['walk', 'tree'] as const) {
        const got = overlayFiles(base, sent, removed, order);
        const want = sortedWhole(base, sent, removed, order);
        expect(got.files, `seed ${seed} ${order}`).toEqual(want.files);
        expect(got.files.map((f) => f.content.toString()), `seed ${seed} ${order}`).toEqual(want.files.map((f) => f.content.toString()));
        expect(got.paths, `seed ${seed} ${order}`).toBe(want.paths);
        if (want.paths === pathsDigest(sortedWhole(base, [], [], order).files.map((f) => f.path))) samePaths++;
      }
    }
    // Many cases keep the commit's own paths (the digest made once is used), many do not.
    expect(samePaths).toBeGreaterThan(100);
    expect(samePaths).toBeLessThan(500);
  });
});
