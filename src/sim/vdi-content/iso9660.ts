/**
 * Just enough ISO 9660 (ECMA-119) for a simulated guest to read its NoCloud config drive: the volume
 * label and the files of the root directory, by their Rock Ridge names (NM entries, as genisoimage
 * -rock writes them) or else their ISO names without the `;1` version. Reads through a callback, so
 * the sparse VDI content is never copied whole; every length read is bounded.
 */

/** Reads `length` bytes at `offset` of the image (zeros past what was written). */
export type ReadAt = (offset: number, length: number) => Buffer;

const SECTOR = 2048;
const MAX_DIR_BYTES = 64 * 1024;

/** The primary volume descriptor's label, block size and root directory extent; undefined when this is no ISO 9660 image. */
function primaryVolume(read: ReadAt): { label: string; block: number; root: { lba: number; size: number } } | undefined {
  const pvd = read(16 * SECTOR, SECTOR);
  if (pvd[0] !== 1 || pvd.toString('latin1', 1, 6) !== 'CD001') return undefined;
  const block = pvd.readUInt16LE(128) || SECTOR;
  return { label: pvd.toString('latin1', 40, 72).trimEnd(), block, root: { lba: pvd.readUInt32LE(156 + 2), size: pvd.readUInt32LE(156 + 10) } };
}

/** The volume label (volume identifier) of an ISO 9660 image, or undefined when it is none. */
export function isoLabel(read: ReadAt): string | undefined {
  return primaryVolume(read)?.label;
}

/** A directory record's Rock Ridge name (the NM entries of its system use area), if it has one. */
function rockRidgeName(rec: Buffer, nameLen: number): string | undefined {
  let pos = 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
  let name = '';
  let found = false;
  while (pos + 4 <= rec.length) {
    const len = rec[pos + 2]!;
    if (len < 4 || pos + len > rec.length) break;
    if (rec.toString('latin1', pos, pos + 2) === 'NM' && len >= 5) {
      name += rec.toString('utf8', pos + 5, pos + len);
      found = true;
    }
    pos += len;
  }
  return found ? name : undefined;
}

/**
 * The content of file `name` in the image's root directory (at most `maxBytes`), or undefined when the
 * image is no ISO 9660 or has no such regular file.
 */
export function readIsoRootFile(read: ReadAt, name: string, maxBytes: number): Buffer | undefined {
  const vol = primaryVolume(read);
  if (!vol) return undefined;
  const dir = read(vol.root.lba * vol.block, Math.min(vol.root.size, MAX_DIR_BYTES));
  let pos = 0;
  while (pos < dir.length) {
    const len = dir[pos]!;
    // A zero length pads to the end of a sector: records never cross sector boundaries.
    if (len === 0) {
      pos = (Math.floor(pos / SECTOR) + 1) * SECTOR;
      continue;
    }
    if (len < 34 || pos + len > dir.length) return undefined;
    const rec = dir.subarray(pos, pos + len);
    pos += len;
    const nameLen = rec[32]!;
    const isDir = (rec[25]! & 0x02) !== 0;
    const iso = rec.toString('latin1', 33, 33 + nameLen);
    if (isDir || iso === '\0' || iso === '\x01') continue;
    const own = rockRidgeName(rec, nameLen) ?? iso.replace(/;\d+$/, '').replace(/\.$/, '');
    if (own !== name && own.toLowerCase() !== name.toLowerCase()) continue;
    const size = rec.readUInt32LE(10);
    if (size > maxBytes) return undefined;
    return read(rec.readUInt32LE(2) * vol.block, size);
  }
  return undefined;
}
