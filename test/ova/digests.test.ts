/** The `.mf` manifest lines as ovftool, VirtualBox and `openssl dgst` write them (DSP0243 section 5.1). */
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/ova/digests.js';

const h1 = 'a'.repeat(40);
const h256 = 'B'.repeat(64);

describe('parseManifest', () => {
  it('reads SHA1, SHA256 and OpenSSL 3 SHA2-256 lines, CRLF or LF', () => {
    const m = parseManifest(`SHA1(a.ovf)= ${h1}\r\nSHA256(disk1.vmdk)= ${h256}\nSHA2-256(./disk2.vmdk)=${h256}\n\n`, 'x.mf');
    expect([...m.values()].map((e) => [e.file, e.algorithm, e.hex, e.line])).toEqual([
      ['a.ovf', 'sha1', h1, 1],
      ['disk1.vmdk', 'sha256', h256.toLowerCase(), 2],
      ['disk2.vmdk', 'sha256', h256.toLowerCase(), 3],
    ]);
  });

  it('reads VirtualBox spacing (`SHA256 (box.ovf) = hex`)', () => {
    expect(parseManifest(`SHA256 (box.ovf) = ${h256}\n`, 'box.mf').get('box.ovf')?.algorithm).toBe('sha256');
  });

  it('refuses lines it cannot check, with their line number', () => {
    expect(() => parseManifest(`SHA256(a)= ${h256}\nMD5(b)= 00\n`, 'x.mf')).toThrow(/x\.mf: line 2: not a digest line/);
    expect(() => parseManifest(`SHA512(a)= ${'0'.repeat(128)}`, 'x.mf')).toThrow(/SHA512 digests are not supported/);
    expect(() => parseManifest(`SHA256(a)= ${h1}`, 'x.mf')).toThrow(/a SHA256 digest has 64 hex digits, not 40/);
    expect(() => parseManifest(`SHA1(a)= ${h1}\nSHA256(a)= ${h256}`, 'x.mf')).toThrow(/line 2: a is listed twice/);
  });
});
