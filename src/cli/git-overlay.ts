/**
 * `plan --server` from a Git work tree: the manifests told as one of the controller's recent
 * commits and what differs from it, as `git diff` sees it. A pull request changing one file of
 * 10,000 then reads and sends that one file, and git (not node) compares the rest with the commit.
 *
 * Used only when git's answer is the bytes a folder read would give: when anything could make a
 * file's bytes differ from its blob while git calls it unchanged (end-of-line conversion or a
 * filter by attribute or `core.autocrlf`, `assume-unchanged` or `skip-worktree` entries,
 * `core.ignoreStat`), or the commit's folder holds symlinks or submodules (a folder read follows
 * them, a tree lists them), the caller names every file by digest instead (folder-digests.ts).
 * The controller checks the overlay's paths against the client's, so a set it would make
 * differently is refused, never planned.
 */
import { statSync } from 'node:fs';
import { MAX_COMPANION_BYTES, isCompanionPath } from '../manifests/companion-files.js';
import { readCapped, type FolderEntry } from '../manifests/folder.js';
import { isManifestPath } from '../manifests/manifest-path.js';
import { pathsDigest } from '../manifests/paths-digest.js';
import { runGit } from '../source/git-process.js';
import { readBlobs } from '../source/git-tree.js';
import { UserError } from './errors.js';
import type { RepositoryLimits } from '../source/limits.js';

/** The set as the overlay request carries it (plan-api.ts SetOverlay). */
export interface OverlaySet {
  files: { path: string; content: Buffer }[];
  /** `order: 'tree'`: the set is a commit's, in the order a Git tree read gives (xops diff); default a folder walk's. */
  from: { commit: string; removed: string[]; paths: string; order?: 'tree' };
}

/** The commits the controller keeps, newest first, and its manifests folder in the repository (GET /plan). */
export interface OverlayBases {
  commits: string[];
  folder?: string;
}

/** Attributes that change a file's bytes between the work tree and its blob. */
const CONVERTING = new Set(['text', 'eol', 'crlf', 'filter', 'ident', 'working-tree-encoding']);
const SYMLINK = '120000';
const SUBMODULE = '160000';
/** git's answers here are listings: a few hundred bytes per path at most. */
const LISTING_BYTES_PER_PATH = 1024;

/** A work tree found fit for an overlay (probeWorkTree): where the folder is in it, and the commit to tell the set against. */
export interface OverlayBase {
  top: string;
  /** The folder's path in the repository, with a trailing `/` (`''` at the root). */
  prefix: string;
  commit: string;
}

/**
 * What only the folder and the controller's commits decide, started beside the folder's walk: the
 * work tree, its settings and index flags, and the newest of `bases` this repository holds. The
 * reason there is no overlay when anything rules it out.
 */
export async function probeWorkTree(dir: string, bases: Promise<OverlayBases>, limits: RepositoryLimits): Promise<OverlayBase | { reason: string }> {
  const git = gitRunner(limits);
  const located = git(dir, ['rev-parse', '--show-toplevel', '--show-prefix']).then((out) => out.toString('utf8').split('\n') as [string, string]);
  const found = bases.then(async (b) => ({ b, commit: followsGit(b) ? await newestKnown(git, dir, b.commits) : undefined }));
  let top: string, prefix: string, config: Buffer, index: Buffer, b: OverlayBases, commit: string | undefined;
  try {
    // ls-files in the folder lists the index entries under it only.
    [[top, prefix], config, index, { b, commit }] = await Promise.all([located, git(dir, ['config', '-z', '--list']), git(dir, ['ls-files', '-v', '-z']), found]);
  } catch (err) {
    // The controller's refusal (a wrong token, no answer) is the user's to see, not a reason to go by digest.
    if (err instanceof UserError) throw err;
    return { reason: /not a git repository/i.test((err as Error).message) ? 'the folder is not in a Git work tree' : `git: ${(err as Error).message}` };
  }
  const why = otherBase(b, prefix.replace(/\/$/, '')) ?? convertingConfig(config.toString('utf8')) ?? flaggedEntry(index.toString('utf8'));
  if (why) return { reason: why };
  if (!commit) return { reason: NO_KNOWN_COMMIT };
  return { top, prefix, commit };
}

/**
 * The overlay for the folder walked as `walked` against `base` (probeWorkTree), or why there is
 * none (then every file goes by digest). `limits`: the repository's, which bound what is read and sent.
 */
export async function gitOverlay(
  walking: Promise<{ manifests: FolderEntry[]; companions: FolderEntry[] } | undefined>,
  base: OverlayBase,
  limits: RepositoryLimits,
): Promise<{ overlay: OverlaySet } | { reason: string }> {
  const git = gitRunner(limits);
  const { top, prefix, commit } = base;
  const folder = prefix.replace(/\/$/, '');
  const spec = folder ? ['--', folder] : [];
  // The tree and the diff need only the commit: they run while the folder is still being walked.
  const listed = Promise.all([
    // Without sizes (-l): with loose objects, git opens every one of them to tell its size.
    git(top, ['ls-tree', '-r', '-z', '--full-tree', commit, ...spec]),
    git(top, ['diff', '--no-ext-diff', '--no-renames', '--name-only', '-z', commit, ...spec]),
  ]);
  listed.catch(() => {});
  const walked = await walking;
  if (!walked) return { reason: 'the folder could not be walked' };
  let tree: Buffer, diff: Buffer, attributes: Buffer;
  try {
    const walkPaths = [...walked.manifests, ...walked.companions].map((e) => prefix + e.rel);
    [[tree, diff], attributes] = await Promise.all([listed, git(top, ['check-attr', '-z', '--stdin', '-a'], walkPaths.join('\0'))]);
  } catch (err) {
    return { reason: `git: ${(err as Error).message}` };
  }
  const why = convertingAttribute(attributes.toString('utf8'));
  if (why) return { reason: why };
  // The commit's files the controller's Git source may carry (source/git-tree.ts): a companion
  // over its cap is not among them, nor in the client's set (its bytes are the same when unchanged).
  const listing = treeListing(tree, prefix.length, commit);
  if ('reason' in listing) return listing;
  const atCommit = listing.entries;
  // Relative to the folder, as the walk names its entries (diff names them from the top).
  const differs = new Set(diff.toString('utf8').split('\0').filter(Boolean).map((p) => p.slice(prefix.length)));

  const files: OverlaySet['files'] = [];
  const kept: string[] = [];
  let sent = 0;
  const take = (entry: FolderEntry, cap: number, companion: boolean): boolean => {
    if (atCommit.has(entry.rel) && !differs.has(entry.rel)) {
      if (!companion || statSync(entry.abs).size <= cap) kept.push(entry.rel);
      return true;
    }
    const content = readCapped(entry.abs, cap + 1);
    // As a folder read: a companion over its cap is left out, a manifest over it goes so the controller reports it.
    if (companion && content.length > cap) return true;
    sent += content.length;
    files.push({ path: entry.rel, content });
    kept.push(entry.rel);
    return sent <= limits.maxTotalBytes;
  };
  for (const m of walked.manifests) if (!take(m, limits.maxFileBytes, false)) return { reason: 'the changed files pass the repository\'s size limit' };
  for (const c of walked.companions) if (!take(c, MAX_COMPANION_BYTES, true)) return { reason: 'the changed files pass the repository\'s size limit' };
  const present = new Set(kept);
  const removed = [...atCommit.keys()].filter((p) => !present.has(p));
  return { overlay: { files, from: { commit, removed, paths: pathsDigest(kept) } } };
}

/**
 * The sets of `commits` told against the newest of the controller's commits this repository holds,
 * for `xops diff --server`: both sides are Git trees, so a file is unchanged exactly when its blob
 * is the same object, and only the other blobs are read. `prefix`: the manifests folder in the
 * repository (`''` for the root). The reason there are none when the controller follows another
 * folder or no commit this repository has, or a tree holds a symlink or submodule there (a tree
 * read follows links inside the folder; an overlay would not).
 */
export async function treeOverlays(top: string, prefix: string, bases: OverlayBases, commits: string[], limits: RepositoryLimits): Promise<{ sets: OverlaySet[] } | { reason: string }> {
  const other = otherBase(bases, prefix);
  if (other) return { reason: other };
  const git = gitRunner(limits);
  try {
    const base = await newestKnown(git, top, bases.commits);
    if (!base) return { reason: NO_KNOWN_COMMIT };
    const spec = prefix ? ['--', prefix] : [];
    const trees = await Promise.all([base, ...commits].map((c) => git(top, ['ls-tree', '-r', '-z', '--full-tree', c, ...spec])));
    const listed: Map<string, string>[] = [];
    for (const [i, tree] of trees.entries()) {
      const listing = treeListing(tree, prefix ? prefix.length + 1 : 0, [base, ...commits][i]!);
      if ('reason' in listing) return listing;
      listed.push(listing.entries);
    }
    const [atBase, ...atCommits] = listed as [Map<string, string>, ...Map<string, string>[]];
    // Blobs to read: every changed file; and the size of every companion (one over its cap is not carried).
    const changed = new Set<string>();
    const companions = new Set<string>();
    for (const entries of atCommits) {
      for (const [path, oid] of entries) {
        if (atBase.get(path) !== oid) changed.add(oid);
        else if (!isManifestPath(path)) companions.add(oid);
      }
    }
    // One size query for both: the changed blobs' total is bounded before any is read.
    const asked = [...new Set([...changed, ...companions])];
    const sizes = asked.length > 0 ? blobSizes((await git(top, ['cat-file', '--batch-check'], asked.join('\n') + '\n')).toString('utf8')) : new Map<string, number>();
    let total = 0;
    for (const oid of changed) total += sizes.get(oid) ?? 0;
    if (total > limits.maxTotalBytes) return { reason: "the changed files pass the repository's size limit" };
    const blobs = await readBlobs(top, [...changed], total);
    // What a tree read refuses (source/limits.ts ReadBudget) goes by digest, to be refused the same way.
    for (const entries of atCommits) {
      if (entries.size > limits.maxFiles) return { reason: `more than ${limits.maxFiles} files` };
      for (const [path, oid] of entries) if (isManifestPath(path) && (blobs.get(oid)?.length ?? 0) > limits.maxFileBytes) return { reason: `${path} passes the file size limit` };
    }
    const sets = atCommits.map((entries) => {
      const files: OverlaySet['files'] = [];
      const kept: string[] = [];
      for (const [path, oid] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
        const content = blobs.get(oid);
        const size = content ? content.length : sizes.get(oid) ?? 0;
        if (!isManifestPath(path) && size > MAX_COMPANION_BYTES) continue;
        kept.push(path);
        if (content && atBase.get(path) !== oid) files.push({ path, content });
      }
      const present = new Set(kept);
      const removed = [...atBase.keys()].filter((p) => !present.has(p));
      return { files, from: { commit: base, removed, paths: pathsDigest(kept), order: 'tree' as const } };
    });
    return { sets };
  } catch (err) {
    return { reason: `git: ${(err as Error).message}` };
  }
}

const NO_KNOWN_COMMIT = "none of the controller's commits is in this repository (a shallow clone?)";

/** Why `bases` cannot serve a set of `folder` (the controller follows no Git commit, or another folder), or undefined. */
function otherBase(bases: OverlayBases, folder: string): string | undefined {
  if (!followsGit(bases)) return 'the controller follows no Git commit';
  const theirs = bases.folder!.replace(/^\/+|\/+$/g, '');
  return folder === theirs ? undefined : `the folder is ${folder || 'the root'} of its repository, the controller's is ${theirs || 'the root'}`;
}

function followsGit(bases: OverlayBases): boolean {
  return bases.commits.length > 0 && bases.folder !== undefined;
}

/** The first of `commits` (newest first) this repository holds, by one `cat-file --batch-check`. */
async function newestKnown(git: ReturnType<typeof gitRunner>, cwd: string, commits: string[]): Promise<string | undefined> {
  const known = (await git(cwd, ['cat-file', '--batch-check'], commits.join('\n') + '\n')).toString('utf8').split('\n');
  return commits.find((c, i) => known[i]?.startsWith(`${c} commit`));
}

/**
 * `ls-tree -r -z --full-tree` of a folder: path (its first `cut` characters, the folder, dropped) →
 * object id, for the paths a Git source carries; or why there is no overlay (a symlink or a
 * submodule, which a tree read follows and an overlay would not).
 */
function treeListing(tree: Buffer, cut: number, commit: string): { entries: Map<string, string> } | { reason: string } {
  const entries = new Map<string, string>();
  const text = tree.toString('utf8');
  // Each entry is `<mode> SP <type> SP <oid> TAB <path> NUL`: read in place, a listing of 10,000
  // paths is parsed without splitting it into lines and fields first.
  for (let at = 0; at < text.length; ) {
    let end = text.indexOf('\0', at);
    if (end < 0) end = text.length;
    const tab = text.indexOf('\t', at);
    if (tab < 0 || tab > end) break;
    const mode = text.slice(at, text.indexOf(' ', at));
    if (mode === SYMLINK || mode === SUBMODULE) return { reason: `${text.slice(tab + 1, end)} is a ${mode === SYMLINK ? 'symlink' : 'submodule'} at ${commit.slice(0, 12)}` };
    const rel = text.slice(tab + 1 + cut, end);
    if (isManifestPath(rel) || isCompanionPath(rel)) entries.set(rel, text.slice(text.lastIndexOf(' ', tab) + 1, tab));
    at = end + 1;
  }
  return { entries };
}

/** `cat-file --batch-check` lines `<oid> blob <size>`: size by object id. */
function blobSizes(text: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [oid, type, size] = line.split(' ');
    if (oid && type === 'blob') sizes.set(oid, Number(size));
  }
  return sizes;
}

function gitRunner(limits: RepositoryLimits) {
  const maxOutputBytes = (limits.maxEntries + 16) * LISTING_BYTES_PER_PATH;
  return (cwd: string, args: string[], input?: string) => runGit(cwd, ['--literal-pathspecs', ...args], { maxOutputBytes, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
}

/** `git config -z --list`: entries `key\nvalue\0`, keys in lower case. */
function convertingConfig(text: string): string | undefined {
  for (const entry of text.split('\0')) {
    const nl = entry.indexOf('\n');
    const key = nl < 0 ? entry : entry.slice(0, nl);
    const value = (nl < 0 ? 'true' : entry.slice(nl + 1)).toLowerCase();
    if (key === 'core.autocrlf' && (value === 'true' || value === 'input')) return `core.autocrlf is ${value}`;
    if (key === 'core.ignorestat' && ['true', 'yes', 'on', '1'].includes(value)) return 'core.ignoreStat is set';
  }
  return undefined;
}

/** `git ls-files -v -z`: a lower-case tag is an assume-unchanged entry, `S` a skip-worktree one. */
function flaggedEntry(text: string): string | undefined {
  for (const entry of text.split('\0')) {
    if (!entry) continue;
    const tag = entry[0]!;
    if (tag === 'S' || tag.toLowerCase() === tag) return `${entry.slice(2)} is marked ${tag === 'S' ? 'skip-worktree' : 'assume-unchanged'} in the index`;
  }
  return undefined;
}

/** `git check-attr -z -a`: triples `path\0attribute\0value\0`; `-text` (no conversion) is harmless. */
function convertingAttribute(text: string): string | undefined {
  const parts = text.split('\0');
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const [path, name, value] = [parts[i]!, parts[i + 1]!, parts[i + 2]!];
    if (!CONVERTING.has(name) || (name === 'text' && value === 'unset')) continue;
    return `${path} has the attribute ${name}=${value}`;
  }
  return undefined;
}
