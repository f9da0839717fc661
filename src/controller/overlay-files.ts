/**
 * The file set of a `POST /plan` overlay (a commit the controller keeps, some files replaced or
 * added, some removed), in the order the client's set has (a folder walk's or a Git tree's), and
 * the digest of its paths that the client's must match. A commit's set is put in each order once
 * (kept by the set's identity, as the store holds it): a request changing a few files of 10,000
 * merges those into it instead of sorting the whole set again, and when the paths are the commit's
 * own, their digest is the one already made.
 */
import type { ManifestFile } from '../manifests/loader.js';
import { compareWalkOrder } from '../manifests/folder.js';
import { pathsDigest } from '../manifests/paths-digest.js';

export type OverlayOrder = 'walk' | 'tree';

interface Ordered {
  files: ManifestFile[];
  paths: string;
}

const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const COMPARE: Record<OverlayOrder, (a: { path: string }, b: { path: string }) => number> = { walk: compareWalkOrder, tree: byPath };

const orderedSets = new WeakMap<readonly ManifestFile[], Partial<Record<OverlayOrder, Ordered>>>();

function ordered(base: readonly ManifestFile[], order: OverlayOrder): Ordered {
  let known = orderedSets.get(base);
  if (!known) orderedSets.set(base, (known = {}));
  let set = known[order];
  if (!set) {
    const files = [...base].sort(COMPARE[order]);
    known[order] = set = { files, paths: pathsDigest(files.map((f) => f.path)) };
  }
  return set;
}

/**
 * `base` with every file of `sent` in place of the file with its path (or added) and the paths of
 * `removed` left out, in `order`: what sorting the whole set would give (a stable sort, a kept
 * file before a sent one of the same path).
 */
export function overlayFiles(base: readonly ManifestFile[], sent: readonly ManifestFile[], removed: readonly string[], order: OverlayOrder): { files: ManifestFile[]; paths: string } {
  const compare = COMPARE[order];
  const all = ordered(base, order);
  const replaced = new Set(removed);
  for (const f of sent) replaced.add(f.path);
  const kept = all.files.filter((f) => !replaced.has(f.path));
  const added = [...sent].sort(compare);
  const files: ManifestFile[] = [];
  let i = 0;
  let j = 0;
  while (i < kept.length && j < added.length) files.push(compare(kept[i]!, added[j]!) <= 0 ? kept[i++]! : added[j++]!);
  while (i < kept.length) files.push(kept[i++]!);
  while (j < added.length) files.push(added[j++]!);
  // Nothing removed and each file sent in place of one of the commit's: the commit's own paths.
  const samePaths = removed.length === 0 && kept.length + sent.length === all.files.length;
  return { files, paths: samePaths ? all.paths : pathsDigest(files.map((f) => f.path)) };
}
