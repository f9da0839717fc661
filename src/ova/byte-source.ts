/**
 * Sequential reading of a byte stream in exact amounts: the tar reader and the disk image converters read
 * headers of fixed size and bodies of known length from it, and never hold more than what they asked for.
 */

/** The stream ended before the bytes a format promised. `what` names the stream (`disk1.vmdk in app.ova`). */
export class TruncatedError extends Error {
  override name = 'TruncatedError';
}

/** A pull reader over chunks. Callers rely on `position` counting every byte handed out or skipped. */
export class ByteSource {
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;
  private head: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Bytes consumed so far (read or skipped). */
  position = 0;

  /** How errors name the stream. */
  readonly what: string;

  constructor(chunks: AsyncIterable<Buffer | Uint8Array | string>, what: string) {
    this.it = chunks[Symbol.asyncIterator]();
    this.what = what;
  }

  /** Refills `head` with at least one byte; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (this.head.length === 0) {
      if (this.ended) return false;
      const next = await this.it.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      const v = next.value;
      this.head = typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
    return true;
  }

  /** Up to `max` bytes, as soon as some are there (a view: copy it to keep it past the next read). */
  async chunk(max: number): Promise<Buffer | undefined> {
    if (!(await this.fill())) return undefined;
    const out = this.head.subarray(0, Math.min(max, this.head.length));
    this.head = this.head.subarray(out.length);
    this.position += out.length;
    return out;
  }

  /** Exactly `n` bytes (a copy), or TruncatedError. */
  async readExact(n: number): Promise<Buffer> {
    const out = await this.readUpTo(n);
    if (out.length < n) throw new TruncatedError(`${this.what}: truncated: ended at byte ${this.position}, ${n - out.length} byte(s) short`);
    return out;
  }

  /** Up to `n` bytes (a copy): fewer only at the end of the stream. */
  async readUpTo(n: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = await this.chunk(n - got);
      if (!c) break;
      c.copy(out, got);
      got += c.length;
    }
    return got === n ? out : out.subarray(0, got);
  }

  /** Exactly `n` bytes as a series of views, or TruncatedError at the end of the stream. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      const c = await this.chunk(Math.min(left, 1024 * 1024));
      if (!c) throw new TruncatedError(`${this.what}: truncated: ended at byte ${this.position}, ${left} byte(s) short`);
      left -= c.length;
      yield c;
    }
  }

  /** Discards exactly `n` bytes, or TruncatedError. */
  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n));
  }

  /** Discards until `offset` (from the start); an offset already passed is a format error of the caller's. */
  async skipTo(offset: number): Promise<void> {
    if (offset < this.position) throw new Error(`${this.what}: offset ${offset} is behind the read position ${this.position}`);
    await this.skip(offset - this.position);
  }

  /** Whether the stream has ended (nothing left to read). */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }
}

/** What the tar reader needs from a source: sequential reads and skips, and the position. */
export interface SequentialSource {
  readonly what: string;
  readonly position: number;
  readExact(n: number): Promise<Buffer>;
  readUpTo(n: number): Promise<Buffer>;
  take(n: number): AsyncGenerator<Buffer>;
  skip(n: number): Promise<void>;
}

/** Minimal file access for `FileSource` (a `fs.promises.FileHandle` fits). */
export interface PositionalFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/**
 * A SequentialSource over a file of known size that skips by seeking: reading an archive's headers costs a few
 * reads however large its members are. Skipping past the end is a TruncatedError, as reading would be.
 */
export class FileSource implements SequentialSource {
  position = 0;
  readonly what: string;
  private readonly file: PositionalFile;
  private readonly size: number;

  constructor(file: PositionalFile, size: number, what: string) {
    this.file = file;
    this.size = size;
    this.what = what;
  }

  async readUpTo(n: number): Promise<Buffer> {
    const len = Math.max(0, Math.min(n, this.size - this.position));
    const out = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.file.read(out, got, len - got, this.position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.position += got;
    return got === len ? out : out.subarray(0, got);
  }

  async readExact(n: number): Promise<Buffer> {
    const out = await this.readUpTo(n);
    if (out.length < n) throw new TruncatedError(`${this.what}: truncated: ended at byte ${this.position}, ${n - out.length} byte(s) short`);
    return out;
  }

  async *take(n: number): AsyncGenerator<Buffer> {
    for (let left = n; left > 0; ) {
      const c = await this.readExact(Math.min(left, 1024 * 1024));
      left -= c.length;
      yield c;
    }
  }

  async skip(n: number): Promise<void> {
    if (this.position + n > this.size) {
      const short = this.position + n - this.size;
      this.position = this.size;
      throw new TruncatedError(`${this.what}: truncated: ended at byte ${this.size}, ${short} byte(s) short`);
    }
    this.position += n;
  }
}
