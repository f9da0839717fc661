/**
 * VMDK images read as a stream and turned into the raw disk, byte for byte: streamOptimized (compressed grains
 * with markers, what OVAs carry), monolithicSparse (grain directory and tables up front), and the descriptor of a
 * flat image (whose extent is a raw file). Layouts follow VMware's "Virtual Disk Format 5.0" specification.
 * Only one grain (at most 1 MiB) is in memory at a time, plus, for monolithicSparse, its grain tables.
 */
import { inflateSync } from 'node:zlib';
import type { ByteSource } from './byte-source.js';

/** An image that is not a VMDK xops can read, or that is corrupt. */
export class VmdkError extends Error {
  override name = 'VmdkError';
}

const SECTOR = 512;
const MAGIC = 0x564d444b; // "KDMV" read little-endian
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;
const MAX_GRAIN_SECTORS = 2048; // 1 MiB: VMware writes 128 (64 KiB)
/** Grain-table entries held for a monolithicSparse image: 32 Mi entries (128 MiB) is 2 TiB in 64 KiB grains. */
const MAX_GRAINS = 32 * 1024 * 1024;

/** The SparseExtentHeader fields the converter uses. Sizes in sectors, as stored. */
export interface SparseHeader {
  flags: number;
  capacity: number;
  grainSize: number;
  descriptorOffset: number;
  descriptorSize: number;
  numGTEsPerGT: number;
  gdOffset: number;
  overHead: number;
  compressAlgorithm: number;
  /** Grains are deflate-compressed and framed by markers (streamOptimized). */
  streamOptimized: boolean;
}

/** Whether `head` starts with a sparse extent header. */
export function isSparseVmdk(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === MAGIC;
}

/** Whether `head` starts like a VMDK text descriptor (a flat image's `.vmdk`). */
export function isVmdkDescriptor(head: Buffer): boolean {
  return /^\s*# Disk DescriptorFile/.test(head.subarray(0, 64).toString('latin1'));
}

function u64(b: Buffer, at: number, field: string, what: string): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    if (field === 'gdOffset' && v === 0xffffffffffffffffn) return -1; // GD_AT_END: the footer has it
    throw new VmdkError(`${what}: VMDK header field ${field} is too large`);
  }
  return Number(v);
}

/** Reads the 512-byte header; throws VmdkError for anything the converter cannot stream. */
export function parseSparseHeader(b: Buffer, what: string): SparseHeader {
  if (b.length < SECTOR || !isSparseVmdk(b)) throw new VmdkError(`${what}: not a sparse VMDK (no KDMV header)`);
  const version = b.readUInt32LE(4);
  const h: SparseHeader = {
    flags: b.readUInt32LE(8),
    capacity: u64(b, 12, 'capacity', what),
    grainSize: u64(b, 20, 'grainSize', what),
    descriptorOffset: u64(b, 28, 'descriptorOffset', what),
    descriptorSize: u64(b, 36, 'descriptorSize', what),
    numGTEsPerGT: b.readUInt32LE(44),
    gdOffset: u64(b, 56, 'gdOffset', what),
    overHead: u64(b, 64, 'overHead', what),
    compressAlgorithm: b.readUInt16LE(77),
    streamOptimized: false,
  };
  if (version < 1 || version > 3) throw new VmdkError(`${what}: VMDK version ${version} is not supported`);
  if (h.grainSize < 1 || h.grainSize > MAX_GRAIN_SECTORS || (h.grainSize & (h.grainSize - 1)) !== 0)
    throw new VmdkError(`${what}: VMDK grain size ${h.grainSize} sectors is not a power of two up to ${MAX_GRAIN_SECTORS}`);
  if (h.capacity * SECTOR > Number.MAX_SAFE_INTEGER) throw new VmdkError(`${what}: VMDK capacity is too large`);
  const compressed = (h.flags & FLAG_COMPRESSED) !== 0;
  if (compressed && h.compressAlgorithm !== 1) throw new VmdkError(`${what}: VMDK compression ${h.compressAlgorithm} is not deflate`);
  if (compressed && (h.flags & FLAG_MARKERS) === 0) throw new VmdkError(`${what}: compressed VMDK without markers is not supported`);
  h.streamOptimized = compressed;
  if (h.overHead * SECTOR < SECTOR) throw new VmdkError(`${what}: VMDK overhead ${h.overHead} is smaller than its header`);
  return h;
}

/** The virtual disk's size in bytes. */
export function virtualBytes(h: SparseHeader): number {
  return h.capacity * SECTOR;
}

/** One extent line of a descriptor: `RW 2097152 FLAT "disk-flat.vmdk" 0`. */
export interface VmdkExtent {
  access: string;
  sectors: number;
  type: string;
  file: string;
  offset: number;
}

/** A descriptor's `createType` and extents (only what a flat import needs). */
export function parseVmdkDescriptor(text: string, what: string): { createType?: string; extents: VmdkExtent[] } {
  const extents: VmdkExtent[] = [];
  let createType: string | undefined;
  const lines = text.split(/\r?\n/);
  if (lines.length > 10_000) throw new VmdkError(`${what}: VMDK descriptor has too many lines`);
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\0+$/, '').trim();
    const ct = /^createType\s*=\s*"([^"]*)"/.exec(line);
    if (ct) createType = ct[1];
    const ex = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?/.exec(line);
    if (!ex) continue;
    const sectors = Number(ex[2]);
    if (!Number.isSafeInteger(sectors * SECTOR)) throw new VmdkError(`${what}: line ${i + 1}: extent too large`);
    extents.push({ access: ex[1]!, sectors, type: ex[3]!, file: ex[4] ?? '', offset: Number(ex[5] ?? 0) });
  }
  return { ...(createType !== undefined ? { createType } : {}), extents };
}

/** Zeros handed out in slices of at most 1 MiB; the buffer is never written. */
const ZEROS = Buffer.alloc(1024 * 1024);

function* zeros(n: number): Generator<Buffer> {
  for (let left = n; left > 0; left -= ZEROS.length) yield left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left);
}

/**
 * The raw disk of the sparse VMDK read from `src` (positioned at byte 0; its header already parsed): exactly
 * `virtualBytes(h)` bytes, zeros where no grain is stored. Throws VmdkError on corrupt grains, grains past the
 * capacity, and grains stored out of disk order (a streaming converter writes the disk front to back).
 */
export async function* vmdkToRaw(src: ByteSource, h: SparseHeader): AsyncGenerator<Buffer> {
  await src.skip(SECTOR); // the header
  yield* h.streamOptimized ? streamOptimizedGrains(src, h) : sparseGrains(src, h);
}

/** Emits the gap before `lba` and the grain's bytes; returns the new write position (bytes). */
function* place(at: number, lba: number, data: Buffer, h: SparseHeader, what: string): Generator<Buffer, number> {
  const start = lba * SECTOR;
  const grainBytes = h.grainSize * SECTOR;
  const end = Math.min(start + grainBytes, virtualBytes(h));
  if (lba % h.grainSize !== 0) throw new VmdkError(`${what}: grain at sector ${lba} is not grain-aligned`);
  if (start >= virtualBytes(h) || start + data.length > virtualBytes(h))
    throw new VmdkError(`${what}: grain at sector ${lba} lies past the disk's capacity of ${h.capacity} sectors (the image is larger than it declares)`);
  if (start < at) throw new VmdkError(`${what}: grain at sector ${lba} comes after data further into the disk; xops converts images whose grains are stored in disk order (re-export it, or convert it with qemu-img first)`);
  yield* zeros(start - at);
  if (data.length > 0) yield data;
  yield* zeros(end - start - data.length);
  return end;
}

async function* streamOptimizedGrains(src: ByteSource, h: SparseHeader): AsyncGenerator<Buffer> {
  const what = src.what;
  const grainBytes = h.grainSize * SECTOR;
  await src.skipTo(h.overHead * SECTOR);
  let at = 0;
  for (;;) {
    // VMware writes its grain directory at the end (GD_AT_END) and closes the stream with a footer and an
    // end-of-stream marker, so an image that stops before them is cut short. qemu-img keeps the directory in the
    // header's overhead and writes no end marker: its image ends after its last grain. (A member cut short is
    // also caught by its digest.)
    if (h.gdOffset !== -1 && (await src.atEnd())) break;
    const marker = await src.readExact(SECTOR);
    const val = Number(marker.readBigUInt64LE(0));
    const size = marker.readUInt32LE(8);
    if (size > 0) {
      // A grain: LBA, compressed size, then the deflate stream, padded to a sector.
      if (size > grainBytes + 4096) throw new VmdkError(`${what}: compressed grain of ${size} bytes at sector ${val} is larger than a grain can compress to`);
      const total = Math.ceil((12 + size) / SECTOR) * SECTOR;
      const rest = total > SECTOR ? await src.readExact(total - SECTOR) : Buffer.alloc(0);
      const frame = Buffer.concat([marker, rest]).subarray(12, 12 + size);
      let data: Buffer;
      try {
        data = inflateSync(frame, { maxOutputLength: grainBytes });
      } catch (e) {
        throw new VmdkError(`${what}: grain at sector ${val} does not decompress (${(e as Error).message})`);
      }
      at = yield* place(at, val, data, h, what);
      continue;
    }
    const type = marker.readUInt32LE(12);
    if (type === 0) break; // end of stream
    if (type > 3) throw new VmdkError(`${what}: unknown VMDK marker type ${type}`);
    // Grain table, grain directory or footer: `val` sectors of metadata the raw disk does not need.
    if (val > MAX_GRAINS) throw new VmdkError(`${what}: VMDK metadata of ${val} sectors is too large`);
    await src.skip(val * SECTOR);
  }
  yield* zeros(virtualBytes(h) - at);
}

async function* sparseGrains(src: ByteSource, h: SparseHeader): AsyncGenerator<Buffer> {
  const what = src.what;
  const grains = Math.ceil(h.capacity / h.grainSize);
  if (grains > MAX_GRAINS) throw new VmdkError(`${what}: ${grains} grains is past the ${MAX_GRAINS} xops converts`);
  if (h.gdOffset <= 0 || h.numGTEsPerGT === 0 || h.numGTEsPerGT > 4096) throw new VmdkError(`${what}: VMDK grain directory is missing or malformed`);
  const tables = Math.ceil(grains / h.numGTEsPerGT);
  await src.skipTo(h.gdOffset * SECTOR);
  const gd = await src.readExact(tables * 4);
  // Grain tables are read in file order; each maps its grains to the sectors holding them.
  const order = [...Array(tables).keys()].map((t) => ({ t, sector: gd.readUInt32LE(t * 4) })).filter((g) => g.sector !== 0).sort((a, b) => a.sector - b.sector);
  const grainAt = new Float64Array(grains);
  for (const { t, sector } of order) {
    await src.skipTo(sector * SECTOR);
    const gt = await src.readExact(h.numGTEsPerGT * 4);
    for (let i = 0; i < h.numGTEsPerGT && t * h.numGTEsPerGT + i < grains; i++) grainAt[t * h.numGTEsPerGT + i] = gt.readUInt32LE(i * 4);
  }
  // Entry 0 is unallocated and 1 VMware's "zeroed grain": both read as zeros.
  const stored: number[] = [];
  for (let g = 0; g < grains; g++) if (grainAt[g]! > 1) stored.push(g);
  stored.sort((a, b) => grainAt[a]! - grainAt[b]!);
  const grainBytes = h.grainSize * SECTOR;
  let at = 0;
  for (const g of stored) {
    const lba = g * h.grainSize;
    const offset = grainAt[g]! * SECTOR;
    if (offset < h.overHead * SECTOR) throw new VmdkError(`${what}: grain ${g} is stored inside the image's metadata`);
    await src.skipTo(offset);
    const data = await src.readExact(Math.min(grainBytes, virtualBytes(h) - lba * SECTOR));
    at = yield* place(at, lba, data, h, what);
  }
  yield* zeros(virtualBytes(h) - at);
}
