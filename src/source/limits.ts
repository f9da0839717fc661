/**
 * The budget one commit (or one read of a local folder) may spend, so a hostile or mistaken
 * repository cannot exhaust the controller's memory or time. One type for every reader — the Git
 * tree reader, the local folder readers and the loader — so a commit is refused for the same reason
 * wherever it is read. Every field has a default (`DEFAULT_REPOSITORY_LIMITS`); callers pass a
 * `Partial<RepositoryLimits>` and get the defaults for the rest (`repositoryLimits`).
 *
 * What counts: a file reached through a symlink counts once per path it is reached by, with its
 * bytes each time (symlink expansion is counted as the bytes it adds), so a link fan-out is refused
 * as soon as its expansion would pass a limit, before it is read.
 */
export interface RepositoryLimits {
  /** Manifest files per commit, symlinked copies included. Default 20,000 (the 10,000-VM benchmark fits). */
  maxFiles: number;
  /** Bytes of one manifest file, checked before the file is read. Default 1 MiB. */
  maxFileBytes: number;
  /** Bytes of all manifest files of a commit, symlinked copies included. Default 64 MiB. */
  maxTotalBytes: number;
  /**
   * Paths a reader may visit in the manifests folder (files of any name, folders, symlinks, and every
   * path a symlink expands to), so a huge tree or a symlink fan-out is refused before the walk itself
   * costs time. Default 100,000.
   */
  maxEntries: number;
  /** YAML nodes of one file, all its documents and every alias expansion included. Default 250,000. */
  maxFileNodes: number;
  /** YAML nodes over all files of a commit, aliases included. Default 1,000,000. */
  maxNodes: number;
  /** Nesting depth of YAML collections. Default 64. */
  maxDepth: number;
}

/** The defaults of `RepositoryLimits`: far above any real repository, far below what hurts. */
export const DEFAULT_REPOSITORY_LIMITS: Readonly<RepositoryLimits> = Object.freeze({
  maxFiles: 20_000,
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxEntries: 100_000,
  maxFileNodes: 250_000,
  maxNodes: 1_000_000,
  maxDepth: 64,
});

/** The defaults overridden by whatever `overrides` sets (undefined fields keep their default). */
export function repositoryLimits(overrides: Partial<RepositoryLimits> = {}): RepositoryLimits {
  const limits: RepositoryLimits = { ...DEFAULT_REPOSITORY_LIMITS };
  for (const key of Object.keys(limits) as (keyof RepositoryLimits)[]) {
    const value = overrides[key];
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

/**
 * Counts what one read spends against `RepositoryLimits`. `file()` and `entry()` throw a
 * `BudgetExceeded` (one line naming the path and the limit) the moment a limit would be passed, so a
 * reader stops before reading what lies beyond it.
 */
export class ReadBudget {
  readonly limits: RepositoryLimits;
  files = 0;
  bytes = 0;
  entries = 0;

  constructor(limits: Partial<RepositoryLimits> = {}) {
    this.limits = repositoryLimits(limits);
  }

  /** One path visited (any file, folder or link, or a path a link expands to). */
  entry(path: string): void {
    if (++this.entries > this.limits.maxEntries) {
      throw new BudgetExceeded(path, `more than ${this.limits.maxEntries} paths in the manifests folder (symlink expansion included); refusing to read it`);
    }
  }

  /** One manifest file of `size` bytes to be read at `path`. */
  file(path: string, size: number): void {
    if (size > this.limits.maxFileBytes) {
      throw new BudgetExceeded(path, `file is ${size} bytes, more than the limit of ${this.limits.maxFileBytes}; refusing to read it`);
    }
    if (++this.files > this.limits.maxFiles) {
      throw new BudgetExceeded(path, `more than ${this.limits.maxFiles} manifest files (symlinked copies included); refusing to read them`);
    }
    this.bytes += size;
    if (this.bytes > this.limits.maxTotalBytes) {
      throw new BudgetExceeded(path, `manifests add up to more than ${this.limits.maxTotalBytes} bytes (symlinked copies included); refusing to read them`);
    }
  }
}

/** A read passed one of its `RepositoryLimits`; `path` is where it was passed. */
export class BudgetExceeded extends Error {
  override name = 'BudgetExceeded';
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}
