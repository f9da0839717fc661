import type { SimpleGit } from 'simple-git';
import { MAX_COMPANION_BYTES, isCompanionPath } from '../manifests/companion-files.js';
import { isManifestPath } from '../manifests/manifest-path.js';
import type { ManifestFile } from '../manifests/loader.js';
import { runGit, OutputTooLarge } from './git-process.js';
import { BudgetExceeded, ReadBudget, type RepositoryLimits } from './limits.js';
import { resolveLinkTarget } from './paths.js';
import { SourceError } from './types.js';
import type { BlobCache } from './blob-cache.js';

const SYMLINK_MODE = '120000';
/** A chain of symlinks longer than this is treated as a loop. */
const MAX_LINK_HOPS = 8;
/** No file system takes a longer symlink target (PATH_MAX); a longer "link" blob is not a link. */
const MAX_LINK_TARGET_BYTES = 4096;
/** Bytes of `ls-tree -r -l -z` output one entry may take on average, path included, before git is stopped. */
const LISTING_BYTES_PER_ENTRY = 1024;

/**
 * The manifest files of `subfolder` (`''` for the root) at `commit`, read straight from the object
 * store of the repository at `gitDir` (`ls-tree` + one `cat-file --batch`): nothing is checked out,
 * so the working tree is never touched. Symlinks are followed while they stay inside the folder; one
 * that leaves it is an error. Paths are relative to the folder, sorted. Used by the Git source and by
 * `xops diff`, so both see exactly the same files at a commit.
 *
 * Bounded by `limits` (`RepositoryLimits`): the listing carries each blob's size, so a commit whose
 * files, bytes or symlink expansion pass a limit is refused (a `SourceError` naming the path) before
 * any file is read. The `git` argument is no longer used (git runs with a minimal environment of its
 * own); it is kept so callers need not change. `blobs`: blobs kept from earlier reads (blob-cache.ts);
 * only the others are read from git.
 */
export async function readManifestTree(
  _git: SimpleGit | undefined,
  gitDir: string,
  commit: string,
  subfolder: string,
  limits: Partial<RepositoryLimits> = {},
  blobs?: BlobCache,
): Promise<ManifestFile[]> {
  const where = subfolder || '.';
  const budget = new ReadBudget(limits);
  try {
    const entries = await listTree(gitDir, commit, subfolder, budget);
    const selected = selectFiles(entries, where, budget);
    const kept = new Map<string, Buffer>();
    const unique = new Map<string, number>();
    for (const s of selected) {
      const blob = blobs?.get(s.oid);
      if (blob) kept.set(s.oid, blob);
      else unique.set(s.oid, s.size);
    }
    const read = await readBlobs(gitDir, [...unique.keys()], sum(unique.values()));
    for (const [oid, blob] of read) blobs?.set(oid, blob);
    const files: ManifestFile[] = selected.map((s) => ({ path: s.path, content: kept.get(s.oid) ?? read.get(s.oid)! }));
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return files;
  } catch (err) {
    if (err instanceof BudgetExceeded) throw new SourceError(`${commit}:${err.path}`, err.message);
    throw err;
  }
}

interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  /** The blob's size in bytes (0 for a submodule). */
  size: number;
  /** Relative to the sub-folder. */
  path: string;
  /** A symlink's target (its blob's content), read by listTree. */
  target?: string;
}

async function listTree(gitDir: string, commit: string, subfolder: string, budget: ReadBudget): Promise<TreeEntry[]> {
  const where = subfolder || '.';
  const args = ['--literal-pathspecs', 'ls-tree', '-r', '-l', '-z', '--full-tree', commit];
  if (subfolder) args.push('--', subfolder);
  let out: string;
  try {
    out = (await runGit(gitDir, args, { maxOutputBytes: budget.limits.maxEntries * LISTING_BYTES_PER_ENTRY })).toString('utf8');
  } catch (err) {
    if (err instanceof OutputTooLarge) {
      throw new BudgetExceeded(where, `the tree lists more than ${budget.limits.maxEntries} paths; refusing to read it`);
    }
    throw new SourceError(`${commit}`, `cannot list the tree: ${(err as Error).message}`, { cause: err });
  }
  const prefix = subfolder ? subfolder + '/' : '';
  const entries: TreeEntry[] = [];
  for (const line of out.split('\0')) {
    if (!line) continue;
    const tab = line.indexOf('\t');
    const [mode, type, oid, size] = line.slice(0, tab).split(/ +/);
    const fullPath = line.slice(tab + 1);
    if (fullPath === subfolder) {
      throw new SourceError(`${commit}:${fullPath}`, mode === SYMLINK_MODE ? 'the manifests folder is a symlink' : 'the manifests folder is a file');
    }
    const path = fullPath.slice(prefix.length);
    budget.entry(`${where}/${path}`);
    entries.push({ mode, type, oid, size: size === '-' ? 0 : Number(size), path });
  }
  if (entries.length === 0 && subfolder) {
    throw new SourceError(`${commit}:${subfolder}`, 'no such folder at this commit');
  }
  // Symlink targets are blob contents: read them so selectFiles can check where they point.
  const links = entries.filter((e) => e.mode === SYMLINK_MODE);
  for (const link of links) {
    if (link.size > MAX_LINK_TARGET_BYTES) throw new BudgetExceeded(`${where}/${link.path}`, `symlink target is ${link.size} bytes, longer than any path; refusing to read it`);
  }
  if (links.length > 0) {
    const unique = new Map(links.map((l) => [l.oid, l.size]));
    const targets = await readBlobs(gitDir, [...unique.keys()], sum(unique.values()));
    for (const link of links) link.target = targets.get(link.oid)!.toString('utf8');
  }
  // Sorted by path, the entries under a folder are one contiguous run (see `under`).
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return entries;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/**
 * Reads blobs by object id through one `git cat-file --batch` process (binary-safe). `bytes` is
 * what their sizes add up to: git is stopped if it prints more than they and their headers can take.
 */
export async function readBlobs(gitDir: string, oids: string[], bytes: number): Promise<Map<string, Buffer>> {
  const result = new Map<string, Buffer>();
  if (oids.length === 0) return result;
  let out: Buffer;
  try {
    // Each object adds a header line (`<oid> blob <size>\n`, at most ~100 bytes) and a newline.
    out = await runGit(gitDir, ['cat-file', '--batch'], { maxOutputBytes: bytes + oids.length * 128, input: oids.join('\n') + '\n' });
  } catch (err) {
    throw new SourceError(gitDir, `git cat-file failed: ${(err as Error).message}`, { cause: err });
  }
  let pos = 0;
  for (const oid of oids) {
    const eol = out.indexOf(0x0a, pos);
    const header = out.subarray(pos, eol).toString();
    const [, type, size] = header.split(' ');
    if (type === 'missing' || size === undefined) throw new SourceError(gitDir, `object ${oid} is missing from the cache`);
    const start = eol + 1;
    result.set(oid, Buffer.from(out.subarray(start, start + Number(size))));
    pos = start + Number(size) + 1;
  }
  return result;
}

/** The entries under folder `dir` ('' for the root), from `entries` sorted by path, by binary search. */
function under(entries: TreeEntry[], dir: string): TreeEntry[] {
  if (dir === '') return entries;
  const prefix = dir + '/';
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid].path < prefix) lo = mid + 1;
    else hi = mid;
  }
  let end = lo;
  while (end < entries.length && entries[end].path.startsWith(prefix)) end++;
  return entries.slice(lo, end);
}

/**
 * Chooses the manifest files in a sub-folder's tree: regular blobs with a manifest extension (and
 * companion files), and
 * symlinks followed when they stay inside the folder (to a file, or to a folder whose files then
 * appear under the link's path). A symlink that leaves the folder is an error wherever it is, even
 * if its name is not a manifest's: the folder must be self-contained. Every path a link expands to
 * is counted against `budget` as it is reached, so a fan-out of links is refused after at most
 * `maxEntries` steps, whatever its expansion would have been.
 */
function selectFiles(entries: TreeEntry[], where: string, budget: ReadBudget): { path: string; oid: string; size: number }[] {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const target = (e: TreeEntry) => e.target ?? '';
  for (const e of entries) {
    if (e.mode === SYMLINK_MODE && resolveLinkTarget(e.path, target(e)) === undefined) {
      throw new SourceError(`${where}/${e.path}`, `symlink to '${target(e)}' leaves the manifests folder`);
    }
  }
  const selected: { path: string; oid: string; size: number }[] = [];
  // Manifests, and the small companion files manifests may name (companion-files.ts); larger ones stay out.
  const carried = (path: string, entry: TreeEntry) => isManifestPath(path) || (isCompanionPath(path) && entry.size <= MAX_COMPANION_BYTES);
  const take = (path: string, entry: TreeEntry) => {
    budget.file(`${where}/${path}`, entry.size);
    selected.push({ path, oid: entry.oid, size: entry.size });
  };
  const follow = (linkPath: string, entry: TreeEntry, hops: number): void => {
    if (hops > MAX_LINK_HOPS) throw new SourceError(`${where}/${linkPath}`, 'too many levels of symlinks');
    const to = resolveLinkTarget(entry.path, target(entry))!;
    const file = byPath.get(to);
    if (file) {
      if (file.mode === SYMLINK_MODE) follow(linkPath, file, hops + 1);
      else if (file.type === 'blob' && carried(linkPath, file)) take(linkPath, file);
      return;
    }
    const dirPrefix = to === '' ? '' : to + '/';
    for (const inner of under(entries, to)) {
      const aliased = linkPath + '/' + inner.path.slice(dirPrefix.length);
      budget.entry(`${where}/${aliased}`);
      if (inner.mode === SYMLINK_MODE) follow(aliased, inner, hops + 1);
      else if (inner.type === 'blob' && carried(aliased, inner)) take(aliased, inner);
    }
  };
  for (const e of entries) {
    if (e.type === 'commit') continue; // submodule: its contents are not in this repository
    if (e.mode === SYMLINK_MODE) follow(e.path, e, 1);
    else if (e.type === 'blob' && carried(e.path, e)) take(e.path, e);
  }
  return selected;
}
