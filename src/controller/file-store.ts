/**
 * Files the controller has seen, by the SHA-256 of their bytes: the commit in force and what
 * `POST /plan` requests sent. A client names files by digest and sends the bytes only of those the
 * controller does not have, so a pull request that changes one file of 10,000 sends one file.
 * A digest is always computed here, over bytes the controller holds: a client cannot make a name
 * stand for other bytes. Bounded by bytes; the least recently used go first.
 */
import { fileDigest } from '../manifests/file-digest.js';
import { dropLeastUsed } from '../manifests/least-used.js';
import type { ManifestFile } from '../manifests/loader.js';

/** Sets of recent commits kept whole, so a client can name one and send only what differs (plan-api.ts). */
const COMMIT_SETS = 3;

interface Stored {
  content: Buffer;
  used: number;
}

/** Default of FileStore's bound: two repositories at the loader's size limit. */
export const DEFAULT_FILE_STORE_BYTES = 128 * 1024 * 1024;

export class FileStore {
  private readonly files = new Map<string, Stored>();
  private readonly added = new WeakSet<readonly unknown[]>();
  private offered: readonly { content: Buffer }[] | undefined;
  /** The files of the most recent commits offered, newest last. */
  private readonly commitSets = new Map<string, readonly ManifestFile[]>();
  private bytes = 0;
  private clock = 0;
  private readonly maxBytes: number;

  constructor(maxBytes = DEFAULT_FILE_STORE_BYTES) {
    this.maxBytes = maxBytes;
  }

  /** Keeps `content`; returns its digest. The same bytes are kept once (the first buffer). */
  add(content: Buffer): string {
    const digest = fileDigest(content);
    const known = this.files.get(digest);
    if (known) known.used = ++this.clock;
    else {
      this.files.set(digest, { content, used: ++this.clock });
      this.bytes += content.length;
      if (this.bytes > this.maxBytes) this.evict();
    }
    return digest;
  }

  /**
   * Offers every file of a set (a reconcile's revision): digested only when a request names a
   * digest the store does not have, so a reconcile pays nothing for it. The newest set offered is
   * the one kept for that; a set already digested (by identity) costs nothing.
   */
  addAll(files: readonly ManifestFile[], commit?: string): void {
    if (!this.added.has(files)) this.offered = files;
    if (commit === undefined) return;
    // The same array each time (a kept set is held by reference, not copied).
    this.commitSets.delete(commit);
    this.commitSets.set(commit, files);
    while (this.commitSets.size > COMMIT_SETS) this.commitSets.delete(this.commitSets.keys().next().value!);
  }

  /** The files of `commit`, when it is one of the recent commits offered. */
  commitFiles(commit: string): readonly ManifestFile[] | undefined {
    return this.commitSets.get(commit);
  }

  /** The recent commits offered, newest first. */
  commits(): string[] {
    return [...this.commitSets.keys()].reverse();
  }

  /** The bytes with this digest, when kept (or in the set offered last). */
  get(digest: string): Buffer | undefined {
    let known = this.files.get(digest);
    if (!known && this.offered) {
      const offered = this.offered;
      this.offered = undefined;
      this.added.add(offered);
      for (const f of offered) this.add(f.content);
      known = this.files.get(digest);
    }
    if (!known) return undefined;
    known.used = ++this.clock;
    return known.content;
  }

  /** Bytes kept now. */
  get size(): number {
    return this.bytes;
  }

  private evict(): void {
    const target = Math.ceil(this.maxBytes * 0.9);
    this.bytes -= dropLeastUsed(this.files, (s) => s.content.length, (dropped) => this.bytes - dropped <= target);
  }
}
