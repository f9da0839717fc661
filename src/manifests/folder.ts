import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import type { Diagnostic } from '../model/diagnostics.js';
import type { ManifestLimits } from './limits.js';
import { repositoryLimits } from '../source/limits.js';
import type { ManifestFile } from './loader.js';
import { MAX_COMPANION_BYTES, isCompanionPath } from './companion-files.js';
import { isManifestPath } from './manifest-path.js';

const READS_PER_TURN = 500;

/** Files read from a folder, plus what could not be read safely. */
export interface FolderRead {
  files: ManifestFile[];
  diagnostics: Diagnostic[];
}

/**
 * Reads every `*.yaml` / `*.yml` file under `dir`, and the companion files (companion-files.ts) of at
 * most MAX_COMPANION_BYTES that manifests may name. Hidden entries (`.git`, `.github`) are skipped.
 * A symlink is followed only when its target stays inside the folder; one that leaves it is a
 * diagnostic. Reads stop at the limits (each file is read to at most one byte over its cap, so the
 * loader can report it without reading a huge file whole).
 */
export async function readManifestFolder(dir: string, limits: Partial<ManifestLimits> = {}): Promise<FolderRead> {
  const caps = repositoryLimits(limits);
  const walked = await walkManifestFolder(dir, limits);
  if (!walked.ok) return { files: [], diagnostics: walked.diagnostics };
  // Read one after another, synchronously: manifests are small, and 10,000 of them read through the
  // thread pool (open, stat, read, close each a round trip) took several times as long.
  const files: ManifestFile[] = [];
  let total = 0;
  for (const p of walked.manifests) {
    if (total > caps.maxTotalBytes) break;
    // Others waiting on the event loop (replies being decoded) get a turn every few hundred files.
    if (files.length % READS_PER_TURN === READS_PER_TURN - 1) await new Promise((r) => setImmediate(r));
    const content = readCapped(p.abs, caps.maxFileBytes + 1);
    total += content.length;
    files.push({ path: p.rel, content });
  }
  // A companion over its cap is left out whole (a manifest naming it says so); they count in the total too.
  for (const p of walked.companions) {
    if (total > caps.maxTotalBytes) break;
    const content = readCapped(p.abs, MAX_COMPANION_BYTES + 1);
    if (content.length > MAX_COMPANION_BYTES) continue;
    total += content.length;
    files.push({ path: p.rel, content });
  }
  return { files, diagnostics: walked.diagnostics };
}

/** A file the walk found: its path relative to the folder, and the real path to read. */
export interface FolderEntry {
  rel: string;
  abs: string;
}

/** What walkManifestFolder found; `ok: false` when the folder cannot be read at all (nothing may be planned). */
export type FolderWalk = { ok: true; root: string; manifests: FolderEntry[]; companions: FolderEntry[]; diagnostics: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };

/**
 * The files readManifestFolder reads, by the same rules (hidden entries skipped, symlinks followed
 * only inside the folder, the entry and file-count limits), without reading them.
 */
export async function walkManifestFolder(dir: string, limits: Partial<ManifestLimits> = {}): Promise<FolderWalk> {
  const caps = repositoryLimits(limits);
  const diagnostics: Diagnostic[] = [];
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    diagnostics.push({ severity: 'error', code: 'folder', message: `cannot read manifests folder '${dir}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    return { ok: false, diagnostics };
  }

  const paths: FolderEntry[] = [];
  const companions: FolderEntry[] = [];
  const visited = new Set<string>([root]);
  const inside = (p: string) => p === root || p.startsWith(root + sep);
  let seen = 0;

  /** Returns false once more than `maxEntries` paths were seen: the walk stops there. */
  async function walk(abs: string, rel: string): Promise<boolean> {
    const entries = await readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      if (++seen > caps.maxEntries) return false;
      // An entry's name holds no separator and `abs` is a real path: no join (it normalises each of 10,000 paths again).
      const entryAbs = abs.endsWith(sep) ? abs + entry.name : abs + sep + entry.name;
      const entryRel = rel ? `${rel}/${entry.name}` : entry.name;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let target = entryAbs;
      if (entry.isSymbolicLink()) {
        try {
          target = await realpath(entryAbs);
        } catch {
          diagnostics.push({ severity: 'error', code: 'symlink', message: 'broken symlink', location: { file: entryRel, line: 1, col: 1 } });
          continue;
        }
        if (!inside(target)) {
          // Report only links that would have been read: a link to a manifest file or a folder.
          const st = await stat(target);
          if (st.isDirectory() || isManifestPath(entry.name)) {
            diagnostics.push({
              severity: 'error',
              code: 'symlink-escape',
              message: 'symlink points outside the manifests folder; refusing to follow it',
              location: { file: entryRel, line: 1, col: 1 },
            });
          }
          continue;
        }
        const st = await stat(target);
        isDir = st.isDirectory();
        isFile = st.isFile();
      }
      if (isDir) {
        if (visited.has(target)) continue; // a link back up the tree
        visited.add(target);
        if (!(await walk(target, entryRel))) return false;
      } else if (isFile && isManifestPath(entry.name)) {
        paths.push({ rel: entryRel, abs: target });
      } else if (isFile && isCompanionPath(entryRel)) {
        companions.push({ rel: entryRel, abs: target });
      }
    }
    return true;
  }
  if (!(await walk(root, ''))) {
    diagnostics.push({ severity: 'error', code: 'too-many-files', message: `the manifests folder holds more than ${caps.maxEntries} paths; refusing to read it` });
    return { ok: false, diagnostics };
  }

  if (paths.length > caps.maxFiles) {
    diagnostics.push({ severity: 'error', code: 'too-many-files', message: `${paths.length} manifest files is more than the limit of ${caps.maxFiles}` });
    return { ok: false, diagnostics };
  }
  return { ok: true, root, manifests: paths, companions, diagnostics };
}

/** The file's bytes, at most `cap` of them (one over a limit is enough to report it). */
export function readCapped(path: string, cap: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    // Size the buffer to the file (plus one byte to notice growth), never beyond the cap.
    const buffer = Buffer.allocUnsafe(Math.min(cap, fstatSync(fd).size + 1));
    cap = buffer.length;
    let filled = 0;
    while (filled < cap) {
      const bytesRead = readSync(fd, buffer, filled, cap - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

/**
 * The files of a set in the order a folder read yields them (walkManifestFolder: manifests, then
 * companion files, each depth first with every folder's entries sorted by name), from their paths
 * alone. Sorting whole path strings would differ: `a-b.yaml` sorts before `a/c.yaml`, while the walk
 * reads folder `a` first.
 */
export function inWalkOrder<T extends { path: string }>(files: readonly T[]): T[] {
  const manifests: T[] = [];
  const companions: T[] = [];
  for (const f of files) (isManifestPath(f.path) ? manifests : companions).push(f);
  return [...manifests.sort(byWalk), ...companions.sort(byWalk)];
}

/** The order inWalkOrder gives, as a comparison: manifests first, each part in walk order. */
export function compareWalkOrder(a: { path: string }, b: { path: string }): number {
  const manifest = isManifestPath(a.path);
  if (manifest !== isManifestPath(b.path)) return manifest ? -1 : 1;
  return compareWalkPaths(a.path, b.path);
}

function byWalk(a: { path: string }, b: { path: string }): number {
  return compareWalkPaths(a.path, b.path);
}

/** Compares two relative paths folder by folder, each level by name, as the walk visits them. */
export function compareWalkPaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // At the first difference, a segment that ends here (`/`) sorts before any longer name.
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
