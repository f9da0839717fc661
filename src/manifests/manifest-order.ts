import { isManifestPath } from './manifest-path.js';

/**
 * The indexes of the manifest files among `files`, in the order the loader takes them (by path):
 * parse-ahead batches follow it, so each batch is a run of the files the loader reads one after another.
 */
export function manifestOrder(files: readonly { path: string }[]): Int32Array {
  const picked: number[] = [];
  files.forEach((f, i) => {
    if (isManifestPath(f.path)) picked.push(i);
  });
  picked.sort((a, b) => (files[a]!.path < files[b]!.path ? -1 : files[a]!.path > files[b]!.path ? 1 : 0));
  return Int32Array.from(picked);
}
