/**
 * Git blobs already read, by object id. An object id names its content, so a kept blob can never
 * be stale: a controller syncing a 10,000-file repository after a one-file commit asks git for one
 * blob, and hands the loader the same Buffer objects as last time for the rest (its parse cache
 * recognises them without digesting them again). Bounded by bytes; least recently used go first.
 */
import { dropLeastUsed } from '../manifests/least-used.js';

interface Kept {
  blob: Buffer;
  used: number;
}

export class BlobCache {
  private readonly blobs = new Map<string, Kept>();
  private bytes = 0;
  private clock = 0;
  private readonly maxBytes: number;

  /** `maxBytes`: most content kept; default 128 MiB, a repository at the default byte limit twice over. */
  constructor(maxBytes = 128 * 1024 * 1024) {
    this.maxBytes = maxBytes;
  }

  get(oid: string): Buffer | undefined {
    const kept = this.blobs.get(oid);
    if (kept) kept.used = ++this.clock;
    return kept?.blob;
  }

  set(oid: string, blob: Buffer): void {
    if (blob.length > this.maxBytes || this.blobs.has(oid)) return;
    this.blobs.set(oid, { blob, used: ++this.clock });
    this.bytes += blob.length;
    if (this.bytes > this.maxBytes) {
      const target = Math.floor(this.maxBytes * 0.9);
      this.bytes -= dropLeastUsed(this.blobs, (k) => k.blob.length, (dropped) => this.bytes - dropped <= target);
    }
  }

  get size(): number {
    return this.blobs.size;
  }
}
