/**
 * A manifests folder named by digest for `plan --server` (remote-plan.ts), without reading the
 * files that did not change since the last run: an index in the user's cache folder keeps each
 * file's size, times, inode and SHA-256, as Git's index does. A file whose stat differs is read
 * and digested again. So is a file changed within INDEX_SLACK_MS of the index being written: a
 * change in the same clock tick as the stat would otherwise look unchanged (Git's "racy clean").
 * Bytes are read only when the controller asks for them.
 */
import { statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Diagnostic } from '../model/diagnostics.js';
import { MAX_COMPANION_BYTES } from '../manifests/companion-files.js';
import { fileDigest } from '../manifests/file-digest.js';
import { readCapped, walkManifestFolder, type FolderEntry, type FolderWalk } from '../manifests/folder.js';
import type { ManifestLimits } from '../manifests/limits.js';
import { repositoryLimits } from '../source/limits.js';

/** A file as `plan --server` sends it: its digest always, its bytes when asked. */
export interface SendableFile {
  path: string;
  sha256: string;
  content(): Buffer;
}

/** How close to the index's writing a change may be and still be trusted: covers coarse file times. */
const INDEX_SLACK_MS = 2000;
const INDEX_VERSION = 1;

/** size, mtimeMs, ctimeMs, ino, sha256. */
type IndexEntry = [number, number, number, number, string];

interface FolderIndex {
  version: number;
  writtenAt: number;
  files: Record<string, IndexEntry>;
}

/**
 * The folder's files (the same ones, by the same rules and limits, as readManifestFolder) with
 * their digests. `indexDir` holds the index (one file per folder); undefined: no index, every file
 * is read. A missing or unreadable index only costs the reads. `read`: how many files were read
 * to digest them (the rest came from the index).
 */
export async function folderByDigest(
  dir: string,
  indexDir: string | undefined,
  limits: Partial<ManifestLimits> = {},
  /** The folder's walk when the caller made it already (walkManifestFolder with the same limits). */
  walk?: FolderWalk,
): Promise<{ files: SendableFile[]; diagnostics: Diagnostic[]; read: number }> {
  const caps = repositoryLimits(limits);
  const walked = walk ?? (await walkManifestFolder(dir, limits));
  if (!walked.ok) return { files: [], diagnostics: walked.diagnostics, read: 0 };
  let read = 0;
  const indexFile = indexDir ? join(indexDir, `${createHash('sha256').update(walked.root).digest('hex').slice(0, 32)}.json`) : undefined;
  const index = indexFile ? await readIndex(indexFile) : undefined;
  const next: FolderIndex = { version: INDEX_VERSION, writtenAt: 0, files: {} };
  let changed = !index;
  const files: SendableFile[] = [];
  let total = 0;
  const add = (entry: FolderEntry, cap: number, companion: boolean): boolean => {
    const st = statSync(entry.abs);
    // Over its cap: read capped every time, so the controller reports it (or leaves a companion out) as a cold plan does.
    if (st.size > cap) {
      const content = readCapped(entry.abs, cap + 1);
      read++;
      if (companion && content.length > cap) return true;
      total += content.length;
      files.push({ path: entry.rel, sha256: fileDigest(content), content: () => content });
      return total <= caps.maxTotalBytes;
    }
    const known = index?.files[entry.rel];
    const trusted = known && known[0] === st.size && known[1] === st.mtimeMs && known[2] === st.ctimeMs && known[3] === st.ino && st.mtimeMs < index!.writtenAt - INDEX_SLACK_MS;
    let content: Buffer | undefined;
    let sha256: string;
    if (trusted) sha256 = known[4];
    else {
      content = readCapped(entry.abs, cap + 1);
      read++;
      sha256 = fileDigest(content);
      changed = true;
    }
    next.files[entry.rel] = [st.size, st.mtimeMs, st.ctimeMs, st.ino, sha256];
    total += st.size;
    files.push({ path: entry.rel, sha256, content: () => (content ??= readCapped(entry.abs, cap + 1)) });
    return total <= caps.maxTotalBytes;
  };
  let within = true;
  for (const m of walked.manifests) if (within) within = add(m, caps.maxFileBytes, false);
  for (const c of walked.companions) if (within) within = add(c, MAX_COMPANION_BYTES, true);
  if (indexFile && (changed || Object.keys(index!.files).length !== Object.keys(next.files).length)) await writeIndex(indexFile, next);
  return { files, diagnostics: walked.diagnostics, read };
}

async function readIndex(file: string): Promise<FolderIndex | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as FolderIndex;
    return parsed.version === INDEX_VERSION && typeof parsed.writtenAt === 'number' && parsed.files && typeof parsed.files === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Written whole under a temporary name, then renamed: a crash leaves the old index or the new one. */
async function writeIndex(file: string, index: FolderIndex): Promise<void> {
  try {
    await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
    index.writtenAt = Date.now();
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(index), { mode: 0o600 });
    await rename(tmp, file);
  } catch {
    // The index only saves reads: without it the next run reads every file.
  }
}
