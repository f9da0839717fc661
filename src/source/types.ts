import type { ManifestFile } from '../manifests/loader.js';

/** A manifest file as a source yields it: the loader's own type, so a snapshot is handed on as is. */
export type { ManifestFile };

/**
 * What a source holds at one revision: the manifests and the revision's identity. `commit` is a git
 * commit id for a git source and `local:<content digest>` for a local folder, so two snapshots with
 * the same `commit` have the same files.
 */
export interface SourceSnapshot {
  commit: string;
  files: ManifestFile[];
  /**
   * Set when the revision failed the operator's signature check (git.verify): why, in one line. Its
   * files are then empty and the revision must not be applied; the last trusted one stays in force.
   */
  untrusted?: string;
}

/** Where the controller's manifests come from. Implementations: `GitSource`, `LocalSource`. */
export interface ManifestSource {
  /** One line for logs and /status, e.g. `git https://… @ main /clusters/prod`. */
  readonly description: string;
  /**
   * Brings the source up to date (a git fetch; a local folder re-read) and returns the manifests at
   * the newest revision. Rejects with a SourceError and changes nothing the caller relies on when the
   * source cannot be read; the previous snapshot stays valid.
   */
  sync(): Promise<SourceSnapshot>;
  /** Stops watchers and child processes. Idempotent. */
  close(): Promise<void>;
}

/**
 * A source could not be read: remote unreachable, branch missing, a symlink escaping the folder.
 * `location` is what failed (url, path), `cause` the underlying error when there is one.
 */
export class SourceError extends Error {
  override name = 'SourceError';
  readonly location: string;
  constructor(location: string, message: string, options?: { cause?: unknown }) {
    super(`${location}: ${message}`, options);
    this.location = location;
  }
}

