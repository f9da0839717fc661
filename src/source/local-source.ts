import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync, type Dirent, type Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { MAX_COMPANION_BYTES, isCompanionPath } from '../manifests/companion-files.js';
import { isManifestPath } from '../manifests/manifest-path.js';
import { BudgetExceeded, ReadBudget, type RepositoryLimits } from './limits.js';
import { SourceError, type ManifestFile, type ManifestSource, type SourceSnapshot } from './types.js';

/** Configuration of a local folder source. */
export interface LocalSourceOptions {
  /** The manifests folder. */
  dir: string;
  /** Quiet time after the last file event before `onChange` fires; default 300 ms, at least 60 ms. */
  debounceMs?: number;
  /** What one read may hold (files, bytes, symlink expansion); defaults in `RepositoryLimits`. */
  limits?: Partial<RepositoryLimits>;
}

/**
 * chokidar drops a file's repeated `change` events within 50 ms of each other; a debounce longer than
 * that guarantees the folder is read after such a dropped second save, so it is never lost.
 */
const MIN_DEBOUNCE_MS = 60;

/** A chain of folder symlinks deeper than this is treated as a loop. */
const MAX_DEPTH = 32;

/**
 * A folder on the controller's disk, for development: `sync()` reads every manifest under it, and
 * `watch()` calls back (debounced) when something under it changes. The snapshot's commit is
 * `local:<digest of paths and contents>`, so an edit that changes nothing yields the same commit.
 */
export class LocalSource implements ManifestSource {
  readonly description: string;
  readonly dir: string;
  private readonly debounceMs: number;
  private readonly limits: Partial<RepositoryLimits>;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The last snapshot's bytes by path: an unchanged file is handed on as the same Buffer (see sync). */
  private previous = new Map<string, Buffer>();

  constructor(options: LocalSourceOptions) {
    this.dir = resolve(options.dir);
    this.debounceMs = Math.max(options.debounceMs ?? 300, MIN_DEBOUNCE_MS);
    this.limits = options.limits ?? {};
    this.description = `local ${this.dir}`;
  }

  async sync(): Promise<SourceSnapshot> {
    let root: string;
    try {
      root = await realpath(this.dir);
      if (!(await stat(root)).isDirectory()) throw new Error('not a folder');
    } catch (err) {
      throw new SourceError(this.dir, `cannot read the manifests folder: ${(err as Error).message}`, { cause: err });
    }
    const files: ManifestFile[] = [];
    try {
      await this.walk(root, root, '', files, 0, new ReadBudget(this.limits), new WalkMemo());
    } catch (err) {
      if (err instanceof BudgetExceeded) throw new SourceError(join(this.dir, err.path), err.message);
      throw err;
    }
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    // The same bytes as last time go on as the same object: the loader's parse cache then knows
    // the file by identity instead of digesting it again (comparing costs far less than hashing).
    const previous = this.previous;
    this.previous = new Map();
    for (const file of files) {
      const old = previous.get(file.path);
      if (old && old.equals(file.content)) file.content = old;
      this.previous.set(file.path, file.content);
    }
    return { commit: `local:${digestFiles(files)}`, files };
  }

  /**
   * Starts watching; `onChange` fires once per burst of file events, `debounceMs` after the last.
   * Resolves when the watcher is ready, so an edit made after it resolves is never missed.
   */
  async watch(onChange: () => void): Promise<void> {
    if (this.watcher) throw new Error('LocalSource is already watching');
    const watcher = watch(this.dir, { ignoreInitial: true, followSymlinks: false });
    this.watcher = watcher;
    watcher.on('all', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(onChange, this.debounceMs);
    });
    await new Promise<void>((ready, fail) => {
      watcher.once('ready', ready);
      watcher.once('error', fail);
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.close();
  }

  /** Whether a file at `path` of `size` bytes goes along as a companion (companion-files.ts); larger ones are left out. */
  private carries(path: string, size: number): boolean {
    return isCompanionPath(path) && size <= Math.min(MAX_COMPANION_BYTES, this.limits.maxFileBytes ?? MAX_COMPANION_BYTES);
  }

  /**
   * Collects manifests (and companion files) under `real` (a real path inside `root`), naming them `prefix/…`. Every path
   * it visits and every file it reads is counted against `budget` first: a folder reached again
   * through a symlink is walked again (its files appear under the link's name), so a fan-out of links
   * is refused by the budget, never expanded.
   */
  private async walk(root: string, real: string, prefix: string, out: ManifestFile[], depth: number, budget: ReadBudget, memo: WalkMemo): Promise<void> {
    if (depth > MAX_DEPTH) throw new SourceError(join(this.dir, prefix), 'too many levels of symlinked folders');
    const entries = await memo.readdir(real);
    for (const entry of entries) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = join(real, entry.name);
      budget.entry(path);
      if (entry.isSymbolicLink()) {
        const { target, info } = await memo.resolve(full);
        if (target === undefined) continue; // dangling link: nothing to read
        if (target !== root && !target.startsWith(root + sep)) {
          throw new SourceError(join(this.dir, path), `symlink to '${relative(root, target)}' leaves the manifests folder`);
        }
        if (info!.isDirectory()) await this.walk(root, target, path, out, depth + 1, budget, memo);
        else if (info!.isFile() && (isManifestPath(path) || this.carries(path, info!.size))) out.push({ path, content: await memo.read(target, path, budget) });
      } else if (entry.isDirectory()) {
        await this.walk(root, full, path, out, depth, budget, memo);
      } else if (entry.isFile() && (isManifestPath(path) || (isCompanionPath(path) && this.carries(path, statSync(full).size)))) {
        out.push({ path, content: await memo.read(full, path, budget) });
      }
    }
  }
}

/**
 * What one walk already asked the file system, by real path: a folder reached again through a link
 * costs no further system call, so the walk's cost is its budget's count, not its I/O.
 */
class WalkMemo {
  private readonly listings = new Map<string, Promise<Dirent[]>>();
  private readonly links = new Map<string, Promise<{ target: string | undefined; info: Stats | undefined }>>();
  private readonly contents = new Map<string, Buffer>();

  readdir(real: string): Promise<Dirent[]> {
    let listing = this.listings.get(real);
    if (!listing) this.listings.set(real, (listing = readdir(real, { withFileTypes: true })));
    return listing;
  }

  /** Where the link at `full` lands and what is there; `target` undefined for a dangling link. */
  resolve(full: string): Promise<{ target: string | undefined; info: Stats | undefined }> {
    let link = this.links.get(full);
    if (!link) {
      link = realpath(full).then(
        async (target) => ({ target, info: await stat(target) }),
        () => ({ target: undefined, info: undefined }),
      );
      this.links.set(full, link);
    }
    return link;
  }

  /** The file's bytes, counted against `budget` under `path` each time it is reached. */
  read(abs: string, path: string, budget: ReadBudget): Buffer {
    const known = this.contents.get(abs);
    if (known) {
      budget.file(path, known.length);
      return known;
    }
    const content = readBounded(abs, path, budget);
    this.contents.set(abs, content);
    return content;
  }
}

/**
 * Reads one file after counting its size against `budget`, never more than one byte past that size
 * (a file that grows while it is read is cut there; one grown past the per-file limit is refused).
 */
function readBounded(abs: string, path: string, budget: ReadBudget): Buffer {
  // Synchronous: a manifest is small, and 10,000 of them through the thread pool (open, stat, read,
  // close each a round trip) cost the controller several times the CPU on every reconcile.
  const fd = openSync(abs, 'r');
  try {
    const size = fstatSync(fd).size;
    budget.file(path, size);
    const buffer = Buffer.alloc(Math.min(size, budget.limits.maxFileBytes) + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const bytesRead = readSync(fd, buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > budget.limits.maxFileBytes) {
      throw new BudgetExceeded(path, `file grew past the limit of ${budget.limits.maxFileBytes} bytes while being read; refusing to read it`);
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

/** Digest over paths and contents, order-independent of the file system's listing order. */
export function digestFiles(files: readonly ManifestFile[]): string {
  const hash = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(f.path).update('\0').update(String(f.content.length)).update('\0').update(f.content);
  }
  return hash.digest('hex').slice(0, 16);
}
