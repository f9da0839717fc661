import type { Extent } from './vhd.js';

/** Size of one frame header of XAPI's `chunked` import protocol. */
export const CHUNK_HEADER_SIZE = 12;

/** The body does not follow the chunked import protocol. */
export class ChunkedFormatError extends Error {
  override name = 'ChunkedFormatError';
}

/**
 * Decodes the framing XAPI reads when `/import_raw_vdi` is called with `chunked=true` (not HTTP chunked transfer
 * encoding, which XAPI refuses): frames of a 12-byte little-endian header, `offset` (uint64) and `length`
 * (uint32), followed by `length` bytes to write at `offset`; a header of offset 0 and length 0 ends the stream.
 * Holds at most one frame's data; frames longer than `maxFrame` are refused so a bad header cannot make it buffer
 * without bound.
 */
export class ChunkedDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private header: { offset: number; length: number } | undefined;
  private finished = false;

  private readonly maxFrame: number;

  constructor(maxFrame: number = 16 * 1024 * 1024) {
    this.maxFrame = maxFrame;
  }

  /** True once the end-of-stream frame was read. */
  get done(): boolean {
    return this.finished;
  }

  push(chunk: Buffer): Extent[] {
    if (this.finished) {
      if (chunk.length > 0) throw new ChunkedFormatError('data after the end-of-stream frame');
      return [];
    }
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Extent[] = [];
    for (;;) {
      if (!this.header) {
        if (this.pending.length < CHUNK_HEADER_SIZE) return out;
        const offset = this.pending.readBigUInt64LE(0);
        const length = this.pending.readUInt32LE(8);
        this.pending = this.pending.subarray(CHUNK_HEADER_SIZE);
        if (offset === 0n && length === 0) {
          this.finished = true;
          if (this.pending.length > 0) throw new ChunkedFormatError('data after the end-of-stream frame');
          return out;
        }
        if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new ChunkedFormatError(`frame offset ${offset} out of range`);
        if (length > this.maxFrame) throw new ChunkedFormatError(`frame of ${length} bytes exceeds ${this.maxFrame}`);
        this.header = { offset: Number(offset), length };
      }
      const h = this.header;
      if (this.pending.length < h.length) return out;
      out.push({ offset: h.offset, data: Buffer.from(this.pending.subarray(0, h.length)) });
      this.pending = this.pending.subarray(h.length);
      this.header = undefined;
    }
  }

  end(): void {
    if (!this.finished) throw new ChunkedFormatError('stream ended before the end-of-stream frame');
  }
}

/** Encodes extents in the chunked import framing, end-of-stream frame included (for clients and tests). */
export function encodeChunked(extents: readonly Extent[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of extents) {
    const h = Buffer.alloc(CHUNK_HEADER_SIZE);
    h.writeBigUInt64LE(BigInt(e.offset), 0);
    h.writeUInt32LE(e.data.length, 8);
    parts.push(h, e.data);
  }
  parts.push(Buffer.alloc(CHUNK_HEADER_SIZE));
  return Buffer.concat(parts);
}
