/**
 * A streaming reader of tar archives (POSIX ustar with pax extended headers, and GNU long names), the container of
 * an OVA. Nothing is extracted: each member's bytes are handed to the caller as they arrive, one member at a time.
 */
import { TruncatedError, type SequentialSource } from './byte-source.js';

/** A malformed archive: a bad header checksum, a size that is not a number, an archive that stops mid-member. */
export class TarError extends Error {
  override name = 'TarError';
}

/** Bounds that keep a hostile archive from growing memory or looping (defaults in TAR_LIMITS). */
export interface TarLimits {
  /** Members (of every type) in the archive. */
  maxEntries: number;
  /** Bytes of one pax extended header or GNU long name (they are held in memory). */
  maxMetaBytes: number;
}

export const TAR_LIMITS: TarLimits = { maxEntries: 10_000, maxMetaBytes: 64 * 1024 };

/** One member. `name` has no leading `./`. */
export interface TarEntry {
  name: string;
  size: number;
  type: 'file' | 'directory' | 'other';
}

const BLOCK = 512;

/** A header field's text up to its first NUL. */
function text(b: Buffer, at: number, len: number): string {
  const field = b.subarray(at, at + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

/** A numeric field: octal text, or GNU's base-256 form (high bit of the first byte set) for sizes past 8 GiB. */
function number(b: Buffer, at: number, len: number, field: string, where: string): number {
  const first = b[at]!;
  if (first & 0x80) {
    if (first !== 0x80) throw new TarError(`${where}: negative or oversized ${field}`);
    let v = 0;
    for (let i = at + 1; i < at + len; i++) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) throw new TarError(`${where}: ${field} too large`);
    return v;
  }
  const s = text(b, at, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`${where}: ${field} is not an octal number: '${s}'`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new TarError(`${where}: ${field} too large`);
  return v;
}

/** The checksum rule: the sum of the header's bytes with the checksum field counted as spaces. */
function checksumOk(b: Buffer, where: string): boolean {
  const stored = number(b, 148, 8, 'checksum', where);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  return sum === stored;
}

/** `path` (and `size`) records of a pax extended header: `LEN key=value\n` each. */
function paxRecords(data: Buffer, where: string): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const len = sp < 0 ? NaN : Number(data.subarray(at, sp).toString('ascii'));
    if (!Number.isInteger(len) || len <= sp - at || at + len > data.length) throw new TarError(`${where}: malformed pax header`);
    const rec = data.subarray(sp + 1, at + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * The members of the archive read from `src`, in order. The caller may read `body` (exactly the member's bytes) in
 * part or not at all; the rest is skipped when it asks for the next member. Throws TarError on a malformed or
 * truncated archive. An archive may end with or without its two zero blocks, but only on a member boundary.
 */
export async function* tarEntries(src: SequentialSource, limits: TarLimits = TAR_LIMITS): AsyncGenerator<{ entry: TarEntry; body: AsyncGenerator<Buffer> }> {
  let count = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  const readMeta = async (size: number, where: string): Promise<Buffer> => {
    if (size > limits.maxMetaBytes) throw new TarError(`${where}: extended header of ${size} bytes is over the ${limits.maxMetaBytes}-byte limit`);
    const data = await src.readExact(size);
    await src.skip(padding(size));
    return data;
  };
  try {
    for (;;) {
      const at = src.position;
      const header = await src.readUpTo(BLOCK);
      if (header.length === 0) return;
      if (header.length < BLOCK) throw new TruncatedError(`${src.what}: truncated: a header at byte ${at} is cut short`);
      if (header.every((b) => b === 0)) return; // end-of-archive (the second zero block and any padding are not read)
      const where = `${src.what}: member header at byte ${at}`;
      if (!checksumOk(header, where)) throw new TarError(`${where}: bad header checksum (not a tar archive, or corrupted)`);
      if (++count > limits.maxEntries) throw new TarError(`${src.what}: more than ${limits.maxEntries} members`);
      const flag = String.fromCharCode(header[156]!);
      let size = number(header, 124, 12, 'size', where);
      if (flag === 'x' || flag === 'g') {
        const data = await readMeta(size, where);
        if (flag === 'x') pax = paxRecords(data, where);
        continue;
      }
      if (flag === 'L') {
        longName = text(await readMeta(size, where), 0, size);
        continue;
      }
      const magic = header.subarray(257, 262).toString('latin1');
      const prefix = magic === 'ustar' ? text(header, 345, 155) : '';
      let name = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
      if (pax.has('size')) {
        const s = Number(pax.get('size'));
        if (!Number.isSafeInteger(s) || s < 0) throw new TarError(`${where}: pax size is not a number`);
        size = s;
      }
      pax = new Map();
      longName = undefined;
      while (name.startsWith('./')) name = name.slice(2);
      const type: TarEntry['type'] = flag === '0' || flag === '\0' || flag === '7' ? 'file' : flag === '5' ? 'directory' : 'other';
      // Links and devices carry no data whatever their size field says; directories neither.
      const dataSize = type === 'file' ? size : 0;
      let consumed = 0;
      const body = (async function* () {
        for await (const c of src.take(dataSize)) {
          consumed += c.length;
          yield c;
        }
      })();
      yield { entry: { name, size: dataSize, type }, body };
      await body.return(undefined);
      await src.skip(dataSize - consumed + padding(dataSize));
    }
  } catch (e) {
    if (e instanceof TruncatedError) throw new TarError(e.message);
    throw e;
  }
}
