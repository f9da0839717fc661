/**
 * VHD (Microsoft Virtual Hard Disk v1.0) as XAPI's `format=vhd` carries it: a streaming decoder for fixed and
 * dynamic images and an encoder for dynamic ones. Layout facts (big-endian fields, "conectix" footer, "cxsparse"
 * dynamic header, the BAT of sector offsets, a sector bitmap before each block) are from the published VHD format
 * specification; qemu-img's `vpc` driver writes and reads the same layout.
 */

/** Size of the footer (and of its copy at the start of a dynamic image). */
export const FOOTER_SIZE = 512;
const DYN_HEADER_SIZE = 1024;
const SECTOR = 512;
const UNUSED = 0xffffffff;
const DISK_FIXED = 2;
const DISK_DYNAMIC = 3;
const DISK_DIFFERENCING = 4;
/** Largest block size accepted on input (the spec's default, and what every tool writes, is 2 MiB). */
const MAX_BLOCK_SIZE = 32 * 1024 * 1024;
/** The block size the encoder writes. */
export const VHD_BLOCK_SIZE = 2 * 1024 * 1024;
/** A VHD addresses at most 2040 GiB (what XAPI calls max_vhd_size). */
export const MAX_VHD_SIZE = 2040 * 1024 * 1024 * 1024;

/** A run of image data at a byte offset of the virtual disk. */
export interface Extent {
  offset: number;
  data: Buffer;
}

/** The image is not a VHD this decoder can read; the message says what is wrong. */
export class VhdFormatError extends Error {
  override name = 'VhdFormatError';
}

/** What the footer says. */
export interface VhdFooter {
  diskType: 'fixed' | 'dynamic' | 'differencing';
  currentSize: number;
  dataOffset: number;
}

function checksum(buf: Buffer, skipAt: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) if (i < skipAt || i >= skipAt + 4) sum += buf[i]!;
  return ~sum >>> 0;
}

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64BE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** Parses and checks a 512-byte footer. */
export function parseFooter(buf: Buffer): VhdFooter {
  if (buf.length < FOOTER_SIZE || buf.toString('latin1', 0, 8) !== 'conectix') throw new VhdFormatError('no VHD footer (cookie "conectix" missing)');
  const f = buf.subarray(0, FOOTER_SIZE);
  if (f.readUInt32BE(64) !== checksum(f, 64)) throw new VhdFormatError('VHD footer checksum mismatch');
  const type = f.readUInt32BE(60);
  const diskType = type === DISK_FIXED ? 'fixed' : type === DISK_DYNAMIC ? 'dynamic' : type === DISK_DIFFERENCING ? 'differencing' : undefined;
  if (!diskType) throw new VhdFormatError(`unknown VHD disk type ${type}`);
  return { diskType, currentSize: u64(f, 48), dataOffset: u64(f, 16) };
}

type Phase =
  | { k: 'start' }
  | { k: 'fixed' }
  | { k: 'dynHeader' }
  | { k: 'bat' }
  | { k: 'blocks' }
  | { k: 'done' };

/**
 * Turns a VHD byte stream into the extents it carries, holding at most one block in memory. Feed bytes with `push`
 * and call `end` once; each returns the extents completed so far. A dynamic image yields only its allocated
 * blocks; a fixed one yields its data (callers skip zeros). Blocks must appear in the file in increasing offset
 * order (every streaming writer does this); a differencing image is refused, as it needs its parent.
 * `maxSize` bounds the virtual size the image may declare.
 */
export class VhdDecoder {
  private phase: Phase = { k: 'start' };
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** File offset of the first pending byte. */
  private pos = 0;
  private footer: VhdFooter | undefined;
  private tableOffset = 0;
  private blockSize = 0;
  private entries = 0;
  /** Allocated blocks sorted by file offset: [fileOffset, blockIndex]. */
  private order: [number, number][] = [];
  private next = 0;
  /** Fixed images: bytes of data emitted so far. */
  private fixedEmitted = 0;

  private readonly maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  /** The virtual size the image declares (once its footer has been read; for fixed images, at `end`). */
  get virtualSize(): number | undefined {
    return this.footer?.currentSize;
  }

  push(chunk: Buffer): Extent[] {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    return this.drain(false);
  }

  end(): Extent[] {
    const out = this.drain(true);
    if (this.phase.k === 'fixed') {
      if (this.pendingLen !== FOOTER_SIZE) throw new VhdFormatError('VHD image truncated (no footer at the end)');
      const f = parseFooter(this.take(FOOTER_SIZE));
      if (f.diskType !== 'fixed') throw new VhdFormatError(`VHD footer says ${f.diskType}, but the image has no header`);
      if (f.currentSize !== this.fixedEmitted) {
        throw new VhdFormatError(`fixed VHD declares ${f.currentSize} bytes but carries ${this.fixedEmitted}`);
      }
      if (f.currentSize > this.maxSize) throw new VhdFormatError(`VHD virtual size ${f.currentSize} exceeds ${this.maxSize}`);
      this.footer = f;
      this.phase = { k: 'done' };
      return out;
    }
    if (this.phase.k === 'start') throw new VhdFormatError('not a VHD image (shorter than a footer)');
    if (this.phase.k !== 'done') throw new VhdFormatError(`VHD image truncated (in ${this.phase.k === 'blocks' ? 'block data' : this.phase.k})`);
    return out;
  }

  private drain(ending: boolean): Extent[] {
    const out: Extent[] = [];
    for (;;) {
      const p = this.phase;
      if (p.k === 'start') {
        if (this.pendingLen < FOOTER_SIZE) return out;
        const head = this.peek(FOOTER_SIZE);
        if (head.toString('latin1', 0, 8) !== 'conectix') {
          this.phase = { k: 'fixed' };
          continue;
        }
        const f = parseFooter(head);
        if (f.diskType === 'differencing') throw new VhdFormatError('differencing VHDs are not supported (they need their parent)');
        if (f.diskType === 'fixed') throw new VhdFormatError('a fixed VHD has its footer at the end only');
        if (f.currentSize > this.maxSize) throw new VhdFormatError(`VHD virtual size ${f.currentSize} exceeds ${this.maxSize}`);
        if (f.dataOffset < FOOTER_SIZE) throw new VhdFormatError(`VHD dynamic header offset ${f.dataOffset} overlaps the footer`);
        this.footer = f;
        this.take(FOOTER_SIZE);
        this.skipTo(f.dataOffset);
        this.phase = { k: 'dynHeader' };
      } else if (p.k === 'fixed') {
        // Everything but the last 512 bytes is data; hold the tail back until the stream ends.
        const avail = this.pendingLen - FOOTER_SIZE;
        if (avail <= 0) return out;
        const room = this.maxSize - this.fixedEmitted;
        if (avail > room) throw new VhdFormatError(`fixed VHD data exceeds ${this.maxSize} bytes`);
        const data = this.take(avail);
        out.push({ offset: this.fixedEmitted, data });
        this.fixedEmitted += data.length;
        return out;
      } else if (p.k === 'dynHeader') {
        if (!this.skipPending()) return out;
        if (this.pendingLen < DYN_HEADER_SIZE) return out;
        const h = this.take(DYN_HEADER_SIZE);
        if (h.toString('latin1', 0, 8) !== 'cxsparse') throw new VhdFormatError('no VHD dynamic header (cookie "cxsparse" missing)');
        if (h.readUInt32BE(36) !== checksum(h, 36)) throw new VhdFormatError('VHD dynamic header checksum mismatch');
        this.tableOffset = u64(h, 16);
        this.entries = h.readUInt32BE(28);
        this.blockSize = h.readUInt32BE(32);
        if (this.blockSize < SECTOR || this.blockSize > MAX_BLOCK_SIZE || (this.blockSize & (this.blockSize - 1)) !== 0) {
          throw new VhdFormatError(`VHD block size ${this.blockSize} is not a power of two between 512 and ${MAX_BLOCK_SIZE}`);
        }
        const needed = Math.ceil(this.footer!.currentSize / this.blockSize);
        // vhd-util sizes the table for the disk's maximum size (so it can grow), hence more entries than blocks;
        // never more than a VHD of the format's largest size has.
        const most = Math.ceil(MAX_VHD_SIZE / this.blockSize) + 1;
        if (this.entries < needed || this.entries > most) {
          throw new VhdFormatError(`VHD table has ${this.entries} entries for ${needed} blocks`);
        }
        if (this.tableOffset < this.pos) throw new VhdFormatError('VHD block table lies before the dynamic header');
        this.skipTo(this.tableOffset);
        this.phase = { k: 'bat' };
      } else if (p.k === 'bat') {
        if (!this.skipPending()) return out;
        if (this.pendingLen < this.entries * 4) return out;
        const bat = this.take(this.entries * 4);
        const order: [number, number][] = [];
        const needed = Math.ceil(this.footer!.currentSize / this.blockSize);
        for (let i = 0; i < this.entries; i++) {
          const sector = bat.readUInt32BE(i * 4);
          if (sector === UNUSED) continue;
          if (i >= needed) throw new VhdFormatError(`VHD block ${i} lies beyond the disk's ${this.footer!.currentSize} bytes`);
          order.push([sector * SECTOR, i]);
        }
        order.sort((a, b) => a[0] - b[0]);
        this.order = order;
        this.next = 0;
        this.phase = { k: 'blocks' };
      } else if (p.k === 'blocks') {
        if (this.next >= this.order.length) {
          // The trailing footer (and any padding) carries nothing more.
          this.pending = [];
          this.pendingLen = 0;
          this.phase = { k: 'done' };
          continue;
        }
        const [fileOffset, index] = this.order[this.next]!;
        if (fileOffset < this.pos) throw new VhdFormatError(`VHD block ${index} at ${fileOffset} overlaps earlier data`);
        this.skipTo(fileOffset);
        if (!this.skipPending()) return out;
        const bitmapBytes = Math.ceil(this.blockSize / SECTOR / 8 / SECTOR) * SECTOR;
        if (this.pendingLen < bitmapBytes + this.blockSize) {
          if (ending) throw new VhdFormatError(`VHD image truncated in block ${index}`);
          return out;
        }
        const bitmap = this.take(bitmapBytes);
        const data = this.take(this.blockSize);
        const base = index * this.blockSize;
        const limit = this.footer!.currentSize;
        // Emit the runs of sectors the bitmap marks as present; others read as zeros.
        const sectors = this.blockSize / SECTOR;
        let s = 0;
        while (s < sectors) {
          if (!bit(bitmap, s)) {
            s++;
            continue;
          }
          let e = s;
          while (e < sectors && bit(bitmap, e)) e++;
          const start = base + s * SECTOR;
          const stop = Math.min(base + e * SECTOR, limit);
          if (start < stop) out.push({ offset: start, data: data.subarray(s * SECTOR, s * SECTOR + (stop - start)) });
          s = e;
        }
        this.next++;
      } else {
        // done: drop whatever follows (the trailing footer copy).
        this.pending = [];
        this.pendingLen = 0;
        return out;
      }
    }
  }

  private skipTarget = 0;

  private skipTo(offset: number): void {
    this.skipTarget = offset;
  }

  /** Discards pending bytes up to the skip target; true once reached. */
  private skipPending(): boolean {
    const gap = this.skipTarget - this.pos;
    if (gap <= 0) return true;
    const n = Math.min(gap, this.pendingLen);
    this.take(n);
    return this.pos >= this.skipTarget;
  }

  private peek(n: number): Buffer {
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingLen = rest.length;
    this.pos += n;
    return head;
  }
}

function bit(bitmap: Buffer, i: number): boolean {
  return (bitmap[i >> 3]! & (0x80 >> (i & 7))) !== 0;
}

/** CHS geometry for the footer, per the VHD specification's algorithm. */
function geometry(size: number): number {
  let total = Math.floor(size / SECTOR);
  if (total > 65535 * 16 * 255) total = 65535 * 16 * 255;
  let spt: number;
  let heads: number;
  let cth: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = Math.floor(total / spt);
  } else {
    spt = 17;
    cth = Math.floor(total / spt);
    heads = Math.max(4, Math.floor((cth + 1023) / 1024));
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = Math.floor(total / spt);
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = Math.floor(total / spt);
    }
  }
  const cyl = Math.floor(cth / heads);
  return ((cyl & 0xffff) << 16) | ((heads & 0xff) << 8) | (spt & 0xff);
}

function makeFooter(size: number, dataOffset: bigint, type: number, uuid: Buffer): Buffer {
  const f = Buffer.alloc(FOOTER_SIZE);
  f.write('conectix', 0, 'latin1');
  f.writeUInt32BE(2, 8); // features: reserved bit always set
  f.writeUInt32BE(0x00010000, 12);
  f.writeBigUInt64BE(dataOffset, 16);
  f.writeUInt32BE(0, 24);
  f.write('xops', 28, 'latin1');
  f.writeUInt32BE(0x00010000, 32);
  f.write('Wi2k', 36, 'latin1');
  f.writeBigUInt64BE(BigInt(size), 40);
  f.writeBigUInt64BE(BigInt(size), 48);
  f.writeUInt32BE(geometry(size) >>> 0, 56);
  f.writeUInt32BE(type, 60);
  uuid.copy(f, 68, 0, 16);
  f.writeUInt32BE(checksum(f, 64), 64);
  return f;
}

/** Reads one block of `blockSize` bytes of the source, or undefined when it holds only zeros. */
export type BlockSource = (index: number) => Buffer | undefined;

/**
 * Writes a dynamic VHD of `size` bytes whose allocated 2 MiB blocks are `present` (ascending indexes), as a
 * sequence of buffers: footer copy, dynamic header, block table, then each block (full sector bitmap + data), then
 * the footer. One block is in memory at a time.
 */
export function* encodeDynamicVhd(size: number, present: readonly number[], read: BlockSource, uuid: Buffer): Generator<Buffer> {
  if (size > MAX_VHD_SIZE) throw new VhdFormatError(`VHD cannot hold ${size} bytes (at most ${MAX_VHD_SIZE})`);
  const entries = Math.ceil(size / VHD_BLOCK_SIZE);
  const tableOffset = FOOTER_SIZE + DYN_HEADER_SIZE;
  const tableBytes = Math.ceil((entries * 4) / SECTOR) * SECTOR;
  const bitmapBytes = Math.ceil(VHD_BLOCK_SIZE / SECTOR / 8 / SECTOR) * SECTOR;
  const footer = makeFooter(size, BigInt(FOOTER_SIZE), DISK_DYNAMIC, uuid);
  yield footer;
  const h = Buffer.alloc(DYN_HEADER_SIZE);
  h.write('cxsparse', 0, 'latin1');
  h.writeBigUInt64BE(0xffffffffffffffffn, 8);
  h.writeBigUInt64BE(BigInt(tableOffset), 16);
  h.writeUInt32BE(0x00010000, 24);
  h.writeUInt32BE(entries, 28);
  h.writeUInt32BE(VHD_BLOCK_SIZE, 32);
  h.writeUInt32BE(checksum(h, 36), 36);
  yield h;
  const bat = Buffer.alloc(tableBytes, 0xff);
  let sector = (tableOffset + tableBytes) / SECTOR;
  for (const i of present) {
    bat.writeUInt32BE(sector, i * 4);
    sector += (bitmapBytes + VHD_BLOCK_SIZE) / SECTOR;
  }
  yield bat;
  const bitmap = Buffer.alloc(bitmapBytes, 0xff);
  for (const i of present) {
    yield bitmap;
    const data = read(i) ?? Buffer.alloc(VHD_BLOCK_SIZE);
    const usable = Math.min(VHD_BLOCK_SIZE, size - i * VHD_BLOCK_SIZE);
    // The tail of a last, partial block lies beyond the disk: zero it in the image.
    yield usable < VHD_BLOCK_SIZE ? Buffer.concat([data.subarray(0, usable), Buffer.alloc(VHD_BLOCK_SIZE - usable)]) : data;
  }
  yield footer;
}
