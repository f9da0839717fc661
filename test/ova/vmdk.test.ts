/**
 * The VMDK-to-raw converter against images qemu-img writes (Debian qemu-utils): streamOptimized (what OVAs carry)
 * and monolithicSparse come out byte-identical to the raw image they were made from. Layouts per VMware's
 * "Virtual Disk Format 5.0" (SparseExtentHeader, grain markers, grain directory and tables).
 */
import { randomFillSync } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteSource } from '../../src/ova/byte-source.js';
import { parseSparseHeader, parseVmdkDescriptor, vmdkToRaw, VmdkError } from '../../src/ova/vmdk.js';
import { MiB, qemuImage, sampleRaw } from './fixtures.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xops-vmdk-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function convert(file: string | Buffer): Promise<Buffer> {
  const head = typeof file === 'string' ? readFileSync(file).subarray(0, 512) : file.subarray(0, 512);
  const h = parseSparseHeader(head, 'disk.vmdk');
  const chunks = typeof file === 'string' ? createReadStream(file) : (async function* () {
    yield file;
  })();
  const out: Buffer[] = [];
  for await (const c of vmdkToRaw(new ByteSource(chunks as AsyncIterable<Buffer>, 'disk.vmdk'), h)) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

describe('vmdkToRaw', () => {
  // A size that is not a whole number of 64 KiB grains: the last grain is cut at the capacity.
  const size = 9 * MiB + 4096;
  const raw = sampleRaw(size);

  it('turns a streamOptimized VMDK into the raw disk it was made from', async () => {
    const vmdk = qemuImage(dir, 'so.vmdk', raw, 'vmdk', 'streamOptimized');
    const h = parseSparseHeader(readFileSync(vmdk).subarray(0, 512), 'so.vmdk');
    expect(h.streamOptimized).toBe(true);
    expect(h.capacity * 512).toBe(size);
    const out = await convert(vmdk);
    expect(out.length).toBe(size);
    expect(out.equals(raw)).toBe(true);
  });

  it('turns a monolithicSparse VMDK into the raw disk it was made from', async () => {
    const vmdk = qemuImage(dir, 'ms.vmdk', raw, 'vmdk', 'monolithicSparse');
    expect(parseSparseHeader(readFileSync(vmdk).subarray(0, 512), 'ms.vmdk').streamOptimized).toBe(false);
    expect((await convert(vmdk)).equals(raw)).toBe(true);
  });

  it('reads the descriptor of a monolithicFlat VMDK', () => {
    qemuImage(dir, 'flat.vmdk', raw, 'vmdk', 'monolithicFlat');
    const d = parseVmdkDescriptor(readFileSync(join(dir, 'flat.vmdk'), 'utf8'), 'flat.vmdk');
    expect(d.createType).toBe('monolithicFlat');
    expect(d.extents).toEqual([{ access: 'RW', sectors: size / 512, type: 'FLAT', file: 'flat-flat.vmdk', offset: 0 }]);
  });

  it('refuses a grain that does not decompress', async () => {
    const img = readFileSync(qemuImage(dir, 'bad.vmdk', raw, 'vmdk', 'streamOptimized'));
    const h = parseSparseHeader(img, 'bad.vmdk');
    // The first grain's deflate stream starts 12 bytes into the first sector after the overhead.
    img[h.overHead * 512 + 12 + 2]! ^= 0xff;
    img[h.overHead * 512 + 12 + 3]! ^= 0xff;
    await expect(convert(img)).rejects.toThrow(VmdkError);
    await expect(convert(img)).rejects.toThrow(/grain at sector 0 does not decompress/);
  });

  it('refuses grains past the capacity the header declares (a disk larger than declared)', async () => {
    const img = readFileSync(qemuImage(dir, 'big.vmdk', raw, 'vmdk', 'streamOptimized'));
    img.writeBigUInt64LE(BigInt(2 * MiB / 512), 12); // capacity: 2 MiB, but grains reach 9 MiB
    await expect(convert(img)).rejects.toThrow(/past the disk's capacity/);
  });

  it('refuses a stream cut inside a grain', async () => {
    const img = readFileSync(qemuImage(dir, 'cut.vmdk', raw, 'vmdk', 'streamOptimized'));
    await expect(convert(img.subarray(0, Math.floor(img.length / 2)))).rejects.toThrow(/truncated/);
  });

  it('converts incompressible grains, and ends a qemu-img image after its last grain', async () => {
    const noisy = Buffer.alloc(4 * MiB);
    randomFillSync(noisy, 0, MiB);
    const vmdk = readFileSync(qemuImage(dir, 'noisy.vmdk', noisy, 'vmdk', 'streamOptimized'));
    // qemu-img writes no footer or end-of-stream marker: the file ends with the last grain it stored.
    expect((await convert(vmdk)).equals(noisy)).toBe(true);
    // With the grain directory at the end, as VMware writes it, the footer and end marker must follow.
    vmdk.writeBigUInt64LE(0xffffffffffffffffn, 56);
    await expect(convert(vmdk)).rejects.toThrow(/noisy|disk\.vmdk: truncated/);
  });

  it('refuses grains stored out of disk order', async () => {
    const noisy = Buffer.alloc(4 * MiB);
    randomFillSync(noisy, 0, 2 * 64 * 1024);
    const img = readFileSync(qemuImage(dir, 'order.vmdk', noisy, 'vmdk', 'streamOptimized'));
    const h = parseSparseHeader(img, 'order.vmdk');
    // Incompressible grains frame to the same length, so the first two frames can trade places.
    const frame = Math.ceil((12 + img.readUInt32LE(h.overHead * 512 + 8)) / 512) * 512;
    const a = h.overHead * 512;
    const first = Buffer.from(img.subarray(a, a + frame));
    img.copy(img, a, a + frame, a + 2 * frame);
    first.copy(img, a + frame);
    await expect(convert(img)).rejects.toThrow(/grain at sector 0 comes after data further into the disk/);
  });

  it('refuses what is not a sparse VMDK', () => {
    writeFileSync(join(dir, 'x'), Buffer.alloc(512));
    expect(() => parseSparseHeader(Buffer.alloc(512), 'x.vmdk')).toThrow(/not a sparse VMDK/);
  });
});
