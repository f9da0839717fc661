import { spawn } from 'node:child_process';
import type { SimpleGit } from 'simple-git';
import { isManifestPath } from '../manifests/loader.js';
import type { ManifestFile } from '../manifests/loader.js';
import { gitMessage } from './git-text.js';
import { resolveLinkTarget } from './paths.js';
import { SourceError } from './types.js';

const SYMLINK_MODE = '120000';
/** A chain of symlinks longer than this is treated as a loop. */
const MAX_LINK_HOPS = 8;

/**
 * The manifest files of `subfolder` (`''` for the root) at `commit`, read straight from the object
 * store of the repository at `gitDir` (`ls-tree` + one `cat-file --batch`): nothing is checked out,
 * so the working tree is never touched. Symlinks are followed while they stay inside the folder; one
 * that leaves it is an error. Paths are relative to the folder, sorted. Used by the Git source and by
 * `xops diff`, so both see exactly the same files at a commit.
 */
export async function readManifestTree(git: SimpleGit, gitDir: string, commit: string, subfolder: string): Promise<ManifestFile[]> {
  const entries = await listTree(git, gitDir, commit, subfolder);
  const selected = selectFiles(entries, subfolder || '.');
  const blobs = await readBlobs(gitDir, [...new Set(selected.map((s) => s.oid))]);
  const files: ManifestFile[] = selected.map((s) => ({ path: s.path, content: blobs.get(s.oid)! }));
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return files;
}

interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  /** Relative to the sub-folder. */
  path: string;
  /** A symlink's target (its blob's content), read by listTree. */
  target?: string;
}

async function listTree(git: SimpleGit, gitDir: string, commit: string, subfolder: string): Promise<TreeEntry[]> {
  const args = ['--literal-pathspecs', 'ls-tree', '-r', '-z', '--full-tree', commit];
  if (subfolder) args.push('--', subfolder);
  let out: string;
  try {
    out = await git.raw(args);
  } catch (err) {
    throw new SourceError(`${commit}`, `cannot list the tree: ${gitMessage(err)}`, { cause: err });
  }
  const prefix = subfolder ? subfolder + '/' : '';
  const entries: TreeEntry[] = [];
  for (const line of out.split('\0')) {
    if (!line) continue;
    const tab = line.indexOf('\t');
    const [mode, type, oid] = line.slice(0, tab).split(' ');
    const fullPath = line.slice(tab + 1);
    if (fullPath === subfolder) {
      throw new SourceError(`${commit}:${fullPath}`, mode === SYMLINK_MODE ? 'the manifests folder is a symlink' : 'the manifests folder is a file');
    }
    entries.push({ mode, type, oid, path: fullPath.slice(prefix.length) });
  }
  if (entries.length === 0 && subfolder) {
    throw new SourceError(`${commit}:${subfolder}`, 'no such folder at this commit');
  }
  // Symlink targets are blob contents: read them so selectFiles can check where they point.
  const links = entries.filter((e) => e.mode === SYMLINK_MODE);
  if (links.length > 0) {
    const targets = await readBlobs(gitDir, links.map((l) => l.oid));
    for (const link of links) link.target = targets.get(link.oid)!.toString('utf8');
  }
  return entries;
}

/** Reads blobs by object id through one `git cat-file --batch` process (binary-safe). */
function readBlobs(gitDir: string, oids: string[]): Promise<Map<string, Buffer>> {
  const result = new Map<string, Buffer>();
  if (oids.length === 0) return Promise.resolve(result);
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd: gitDir, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => reject(new SourceError(gitDir, `git cat-file failed: ${err.message}`, { cause: err })));
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new SourceError(gitDir, `git cat-file exited ${code}: ${stderr.trim()}`));
        return;
      }
      const out = Buffer.concat(chunks);
      let pos = 0;
      for (const oid of oids) {
        const eol = out.indexOf(0x0a, pos);
        const header = out.subarray(pos, eol).toString();
        const [, type, size] = header.split(' ');
        if (type === 'missing' || size === undefined) {
          reject(new SourceError(gitDir, `object ${oid} is missing from the cache`));
          return;
        }
        const start = eol + 1;
        result.set(oid, Buffer.from(out.subarray(start, start + Number(size))));
        pos = start + Number(size) + 1;
      }
      resolvePromise(result);
    });
    child.stdin.end(oids.join('\n') + '\n');
  });
}

/**
 * Chooses the manifest files in a sub-folder's tree: regular blobs with a manifest extension, and
 * symlinks followed when they stay inside the folder (to a file, or to a folder whose files then
 * appear under the link's path). A symlink that leaves the folder is an error wherever it is, even
 * if its name is not a manifest's: the folder must be self-contained.
 */
function selectFiles(entries: TreeEntry[], where: string): { path: string; oid: string }[] {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const target = (e: TreeEntry) => e.target ?? '';
  for (const e of entries) {
    if (e.mode === SYMLINK_MODE && resolveLinkTarget(e.path, target(e)) === undefined) {
      throw new SourceError(`${where}/${e.path}`, `symlink to '${target(e)}' leaves the manifests folder`);
    }
  }
  const selected: { path: string; oid: string }[] = [];
  const follow = (linkPath: string, entry: TreeEntry, hops: number): void => {
    if (hops > MAX_LINK_HOPS) throw new SourceError(`${where}/${linkPath}`, 'too many levels of symlinks');
    const to = resolveLinkTarget(entry.path, target(entry))!;
    const file = byPath.get(to);
    if (file) {
      if (file.mode === SYMLINK_MODE) follow(linkPath, file, hops + 1);
      else if (file.type === 'blob' && isManifestPath(linkPath)) selected.push({ path: linkPath, oid: file.oid });
      return;
    }
    const dirPrefix = to === '' ? '' : to + '/';
    for (const inner of entries) {
      if (!inner.path.startsWith(dirPrefix)) continue;
      const aliased = linkPath + '/' + inner.path.slice(dirPrefix.length);
      if (inner.mode === SYMLINK_MODE) follow(aliased, inner, hops + 1);
      else if (inner.type === 'blob' && isManifestPath(aliased)) selected.push({ path: aliased, oid: inner.oid });
    }
  };
  for (const e of entries) {
    if (e.type === 'commit') continue; // submodule: its contents are not in this repository
    if (e.mode === SYMLINK_MODE) follow(e.path, e, 1);
    else if (e.type === 'blob' && isManifestPath(e.path)) selected.push({ path: e.path, oid: e.oid });
  }
  return selected;
}

