import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Allocation unit of simulated VDI content: a block is stored once any byte of it is written with non-zero data. */
export const CONTENT_BLOCK = 64 * 1024;

const ZERO_BLOCK = Buffer.alloc(CONTENT_BLOCK);

/** Limits of one content store (one simulator). */
export interface ContentLimits {
  /** Bytes of block data kept in memory across all VDIs before further content goes to temp files (default 64 MiB). */
  memoryBytes: number;
  /** Bytes of block data kept in temp files across all VDIs; a write past it fails (default 4 GiB). */
  diskBytes: number;
}

/** A write the store refused because a bound would be exceeded. */
export class ContentLimitError extends Error {
  override name = 'ContentLimitError';
}

/**
 * The written blocks of one VDI. Blocks never written, or written only with zeros while unallocated, read as zeros
 * and take no space, so `allocatedBytes` follows what a thin-provisioned SR would hold. Content lives in memory
 * until the store's memory budget is spent, then moves, whole, to a sparse temp file.
 */
export class SparseContent {
  private readonly mem = new Map<number, Buffer>();
  /** Blocks present in the temp file (when spilled). */
  private readonly onDisk = new Set<number>();
  private fd: number | undefined;
  private path: string | undefined;

  private readonly store: ContentStore;
  readonly key: string;

  constructor(store: ContentStore, key: string) {
    this.store = store;
    this.key = key;
  }

  /** Bytes held: allocated blocks times the block size. */
  get allocatedBytes(): number {
    return (this.mem.size + this.onDisk.size) * CONTENT_BLOCK;
  }

  /** True once the content lives in a temp file. */
  get spilled(): boolean {
    return this.fd !== undefined;
  }

  /** The allocated block indexes, ascending. */
  blocks(): number[] {
    return [...this.mem.keys(), ...this.onDisk].sort((a, b) => a - b);
  }

  /** Writes `data` at byte `offset`. All-zero data over unallocated blocks allocates nothing. */
  write(offset: number, data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      const at = offset + pos;
      const index = Math.floor(at / CONTENT_BLOCK);
      const within = at - index * CONTENT_BLOCK;
      const n = Math.min(CONTENT_BLOCK - within, data.length - pos);
      this.writeInBlock(index, within, data.subarray(pos, pos + n));
      pos += n;
    }
  }

  /** Reads `length` bytes at `offset` (zeros where nothing was written). */
  read(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    let pos = 0;
    while (pos < length) {
      const at = offset + pos;
      const index = Math.floor(at / CONTENT_BLOCK);
      const within = at - index * CONTENT_BLOCK;
      const n = Math.min(CONTENT_BLOCK - within, length - pos);
      const block = this.readBlock(index);
      if (block) block.copy(out, pos, within, within + n);
      pos += n;
    }
    return out;
  }

  /** One whole block, or undefined when it is not allocated. */
  readBlock(index: number): Buffer | undefined {
    const m = this.mem.get(index);
    if (m) return m;
    if (!this.onDisk.has(index)) return undefined;
    const buf = Buffer.alloc(CONTENT_BLOCK);
    readSync(this.fd!, buf, 0, CONTENT_BLOCK, index * CONTENT_BLOCK);
    return buf;
  }

  /** Frees the content and removes its temp file. */
  drop(): void {
    this.store.releaseMemory(this.mem.size * CONTENT_BLOCK);
    this.store.releaseDisk(this.onDisk.size * CONTENT_BLOCK);
    this.mem.clear();
    this.onDisk.clear();
    if (this.fd !== undefined) {
      closeSync(this.fd);
      rmSync(this.path!, { force: true });
      this.fd = undefined;
      this.path = undefined;
    }
  }

  private writeInBlock(index: number, within: number, part: Buffer): void {
    let block = this.readBlock(index);
    if (!block) {
      if (isZero(part)) return;
      block = this.allocate(index);
    }
    part.copy(block, within);
    if (this.fd !== undefined) writeSync(this.fd, block, 0, CONTENT_BLOCK, index * CONTENT_BLOCK);
  }

  /** A fresh zeroed block registered as allocated: in memory while the budget allows, else in the temp file. */
  private allocate(index: number): Buffer {
    if (this.fd === undefined && this.store.reserveMemory(CONTENT_BLOCK)) {
      const b = Buffer.alloc(CONTENT_BLOCK);
      this.mem.set(index, b);
      return b;
    }
    if (this.fd === undefined) this.spill();
    this.store.reserveDisk(CONTENT_BLOCK);
    this.onDisk.add(index);
    return Buffer.alloc(CONTENT_BLOCK);
  }

  /** Moves every in-memory block to a new temp file. */
  private spill(): void {
    this.store.reserveDisk(this.mem.size * CONTENT_BLOCK);
    this.path = join(this.store.tempDir(), `${this.key.replace(/[^A-Za-z0-9-]/g, '_')}.img`);
    this.fd = openSync(this.path, 'w+');
    for (const [index, b] of this.mem) {
      writeSync(this.fd, b, 0, CONTENT_BLOCK, index * CONTENT_BLOCK);
      this.onDisk.add(index);
    }
    this.store.releaseMemory(this.mem.size * CONTENT_BLOCK);
    this.mem.clear();
  }
}

/**
 * The content of every VDI of one simulator, under shared memory and disk bounds. Temp files go to one directory
 * made on first need and removed with the last spilled content (and at process exit).
 */
export class ContentStore {
  readonly limits: ContentLimits;
  private readonly contents = new Map<string, SparseContent>();
  private memoryUsed = 0;
  private diskUsed = 0;
  private dir: string | undefined;
  private readonly onExit = (): void => this.removeDir();

  constructor(limits: Partial<ContentLimits> = {}) {
    this.limits = { memoryBytes: limits.memoryBytes ?? 64 * 1024 * 1024, diskBytes: limits.diskBytes ?? 4 * 1024 * 1024 * 1024 };
  }

  /** The content of `key` (a VDI ref), created empty on first use. */
  content(key: string): SparseContent {
    let c = this.contents.get(key);
    if (!c) {
      c = new SparseContent(this, key);
      this.contents.set(key, c);
    }
    return c;
  }

  /** The content of `key` if anything was ever stored for it. */
  peek(key: string): SparseContent | undefined {
    return this.contents.get(key);
  }

  /** Keys with stored content. */
  keys(): string[] {
    return [...this.contents.keys()];
  }

  /** Frees the content of `key` (its VDI is gone). */
  drop(key: string): void {
    const c = this.contents.get(key);
    if (!c) return;
    c.drop();
    this.contents.delete(key);
    if (![...this.contents.values()].some((x) => x.spilled)) this.removeDir();
  }

  /** Frees everything and removes the temp directory. */
  dispose(): void {
    for (const key of [...this.contents.keys()]) this.drop(key);
    this.removeDir();
  }

  /** The temp directory, if one exists now (for tests and diagnostics). */
  get tempDirPath(): string | undefined {
    return this.dir;
  }

  /** @internal */
  tempDir(): string {
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'xops-sim-vdi-'));
      process.once('exit', this.onExit);
    }
    return this.dir;
  }

  /** @internal */
  reserveMemory(n: number): boolean {
    if (this.memoryUsed + n > this.limits.memoryBytes) return false;
    this.memoryUsed += n;
    return true;
  }

  /** @internal */
  releaseMemory(n: number): void {
    this.memoryUsed -= n;
  }

  /** @internal */
  reserveDisk(n: number): void {
    if (this.diskUsed + n > this.limits.diskBytes) {
      throw new ContentLimitError(`simulator content store full (${this.limits.diskBytes} bytes on disk)`);
    }
    this.diskUsed += n;
  }

  /** @internal */
  releaseDisk(n: number): void {
    this.diskUsed -= n;
  }

  private removeDir(): void {
    if (!this.dir) return;
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    process.off('exit', this.onExit);
  }
}

function isZero(b: Buffer): boolean {
  if (b.length === CONTENT_BLOCK) return b.equals(ZERO_BLOCK);
  return b.equals(ZERO_BLOCK.subarray(0, b.length));
}
