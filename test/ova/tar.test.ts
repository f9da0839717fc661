/**
 * The streaming tar reader on archives GNU tar writes (ustar, pax, and GNU long names), and its refusals.
 * Header layout per POSIX.1-2001 `ustar` and `pax` (IEEE Std 1003.1, the pax utility).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteSource } from '../../src/ova/byte-source.js';
import { tarEntries, TarError, type TarLimits, TAR_LIMITS } from '../../src/ova/tar.js';

let dir: string;
const long = `${'d'.repeat(120)}/${'n'.repeat(90)}.vmdk`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xops-tar-'));
  mkdirSync(join(dir, 'in', 'd'.repeat(120)), { recursive: true });
  writeFileSync(join(dir, 'in', 'a.ovf'), '<Envelope/>');
  writeFileSync(join(dir, 'in', 'empty'), '');
  writeFileSync(join(dir, 'in', long), Buffer.alloc(70_000, 0x5a));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tarOf(format: string, names: string[]): Buffer {
  const out = join(dir, `${format}.tar`);
  execFileSync('tar', [`--format=${format}`, '-cf', out, '-C', join(dir, 'in'), ...names]);
  return readFileSync(out);
}

async function list(buf: Buffer, limits: TarLimits = TAR_LIMITS, read: 'all' | 'some' | 'none' = 'all'): Promise<[string, number, string, number][]> {
  const out: [string, number, string, number][] = [];
  const src = new ByteSource(
    (async function* () {
      for (let i = 0; i < buf.length; i += 1000) yield buf.subarray(i, i + 1000); // many small chunks
    })(),
    't.tar',
  );
  for await (const { entry, body } of tarEntries(src, limits)) {
    let n = 0;
    if (read !== 'none')
      for await (const c of body) {
        n += c.length;
        if (read === 'some') break;
      }
    out.push([entry.name, entry.size, entry.type, n]);
  }
  return out;
}

describe('tarEntries', () => {
  for (const format of ['pax', 'gnu', 'ustar'])
    it(`reads a ${format} archive with a long member name`, async () => {
      const names = format === 'ustar' ? ['a.ovf', 'empty', long] : ['./a.ovf', 'empty', long];
      const entries = (await list(tarOf(format, names))).filter((e) => e[2] === 'file');
      expect(entries).toEqual([
        ['a.ovf', 11, 'file', 11],
        ['empty', 0, 'file', 0],
        [long, 70_000, 'file', 70_000],
      ]);
    });

  it('skips what the caller does not read', async () => {
    const buf = tarOf('pax', ['a.ovf', long, 'empty']);
    expect((await list(buf, TAR_LIMITS, 'none')).map((e) => e[0])).toEqual(['a.ovf', long, 'empty']);
    expect((await list(buf, TAR_LIMITS, 'some')).map((e) => e[0])).toEqual(['a.ovf', long, 'empty']);
  });

  it('refuses an archive cut inside a member or a header', async () => {
    const buf = tarOf('ustar', ['a.ovf', long]);
    await expect(list(buf.subarray(0, 1536 + 30_000))).rejects.toThrow(/t\.tar: truncated/);
    await expect(list(buf.subarray(0, 1024 + 100))).rejects.toThrow(/header at byte 1024 is cut short/);
  });

  it('refuses a header whose checksum is wrong', async () => {
    const buf = Buffer.from(tarOf('ustar', ['a.ovf']));
    buf[10]! ^= 0x20; // in the name field
    await expect(list(buf)).rejects.toThrow(TarError);
    await expect(list(buf)).rejects.toThrow(/bad header checksum/);
  });

  it('bounds the member count and the extended headers', async () => {
    const buf = tarOf('pax', ['a.ovf', 'empty', long]);
    await expect(list(buf, { ...TAR_LIMITS, maxEntries: 2 })).rejects.toThrow(/more than 2 members/);
    await expect(list(buf, { ...TAR_LIMITS, maxMetaBytes: 100 })).rejects.toThrow(/over the 100-byte limit/);
  });
});
