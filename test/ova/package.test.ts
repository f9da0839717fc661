/**
 * Package verification and disk opening on OVAs made with GNU tar and qemu-img: a good package passes and each
 * disk streams back as the raw disk it holds; every corruption the issue names is refused with a clear error.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPackageDisk, outlinePackage, PackageError, verifyPackage, type VerifiedPackage } from '../../src/ova/package.js';
import { type FixtureDisk, makeOva, manifestFor, MiB, qemuImage, sampleRaw, vmwareOvf } from './fixtures.js';

let dir: string;
const size1 = 9 * MiB + 4096;
const size2 = 4 * MiB;
const raw1 = sampleRaw(size1, 1);
const raw2 = sampleRaw(size2, 2);
let ova: string;

async function drain(pkg: VerifiedPackage, href: string): Promise<Buffer> {
  const d = openPackageDisk(pkg, href);
  const out: Buffer[] = [];
  for await (const c of d.stream) out.push(c as Buffer);
  const all = Buffer.concat(out);
  expect(all.length).toBe(d.length);
  return all;
}

const descriptor = (disks: FixtureDisk[] = [
  { file: 'app-disk1.vmdk', capacity: size1 },
  { file: 'app-disk2.vmdk', capacity: size2 },
]): string => vmwareOvf({ name: 'app', vcpus: 2, memoryMiB: 2048, networks: ['VM Network'], disks });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xops-ova-'));
  qemuImage(dir, 'app-disk1.vmdk', raw1, 'vmdk', 'streamOptimized');
  qemuImage(dir, 'app-disk2.vmdk', raw2, 'vmdk', 'streamOptimized');
  writeFileSync(join(dir, 'app.ovf'), descriptor());
  ova = makeOva(dir, join(dir, 'app.ova'), 'app.ovf', ['app-disk1.vmdk', 'app-disk2.vmdk']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verifyPackage on a good OVA', () => {
  it('checks every member and recognises the disks', async () => {
    const pkg = await verifyPackage(ova);
    expect(pkg.kind).toBe('ova');
    expect([...pkg.members.keys()]).toEqual(['app.ovf', 'app.mf', 'app-disk1.vmdk', 'app-disk2.vmdk']);
    expect(pkg.disks.get('app-disk1.vmdk')).toMatchObject({ format: 'vmdk', layout: 'vmdk-streamOptimized', virtualSize: size1 });
    expect(pkg.envelope.systems[0]!.name).toBe('app');
  });

  it('streams each disk as the raw disk it was made from', async () => {
    const pkg = await verifyPackage(ova);
    expect((await drain(pkg, 'app-disk2.vmdk')).equals(raw2)).toBe(true);
    expect((await drain(pkg, 'app-disk1.vmdk')).equals(raw1)).toBe(true);
  });

  it('accepts SHA-1 manifests (OVF 1.x)', async () => {
    const sha1 = makeOva(dir, join(dir, 'sha1.ova'), 'app.ovf', ['app-disk1.vmdk', 'app-disk2.vmdk'], { algorithm: 'sha1' });
    expect((await verifyPackage(sha1)).digests.get('app-disk1.vmdk')!.algorithm).toBe('sha1');
  });

  it('passes a VHD through as VHD and a raw image as raw', async () => {
    const sub = mkdtempSync(join(dir, 'vhd-'));
    qemuImage(sub, 'd.vhd', raw2, 'vpc', 'dynamic');
    writeFileSync(join(sub, 'd.img'), raw1);
    writeFileSync(join(sub, 'v.ovf'), descriptor([
      { file: 'd.vhd', capacity: 8 * MiB, formatUri: 'http://go.microsoft.com/fwlink/?LinkId=137171' },
      { file: 'd.img', capacity: size1, formatUri: 'raw' },
    ]));
    const pkg = await verifyPackage(makeOva(sub, join(sub, 'v.ova'), 'v.ovf', ['d.vhd', 'd.img']));
    const vhd = openPackageDisk(pkg, 'd.vhd');
    expect(vhd.format).toBe('vhd');
    expect(vhd.length).toBe(readFileSync(join(sub, 'd.vhd')).length);
    expect((await drain(pkg, 'd.vhd')).equals(readFileSync(join(sub, 'd.vhd')))).toBe(true);
    expect(openPackageDisk(pkg, 'd.img').format).toBe('raw');
    expect((await drain(pkg, 'd.img')).equals(raw1)).toBe(true);
  });

  it('reads a .ovf with a flat VMDK beside it', async () => {
    const sub = mkdtempSync(join(dir, 'flat-'));
    qemuImage(sub, 'f.vmdk', raw2, 'vmdk', 'monolithicFlat');
    writeFileSync(join(sub, 'f.ovf'), descriptor([{ file: 'f.vmdk', capacity: size2, formatUri: 'http://www.vmware.com/interfaces/specifications/vmdk.html#monolithicFlat' }]));
    writeFileSync(join(sub, 'f.mf'), manifestFor(sub, ['f.ovf', 'f.vmdk', 'f-flat.vmdk']));
    const pkg = await verifyPackage(join(sub, 'f.ovf'));
    expect(pkg.disks.get('f.vmdk')).toMatchObject({ layout: 'vmdk-flat', dataMember: 'f-flat.vmdk', virtualSize: size2 });
    expect((await drain(pkg, 'f.vmdk')).equals(raw2)).toBe(true);
  });
});

describe('verifyPackage refuses', () => {
  const variant = (name: string, edit: (buf: Buffer) => Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, edit(readFileSync(ova)));
    return path;
  };

  it('one flipped byte in a disk', async () => {
    const bad = variant('flipped.ova', (b) => {
      const at = b.lastIndexOf('KDMV') + 700; // inside disk2's embedded descriptor (disk2 is the last member)
      b[at]! ^= 0x01;
      return b;
    });
    await expect(verifyPackage(bad)).rejects.toThrow(/flipped\.ova: app-disk2\.vmdk: SHA256 digest [0-9a-f]{64} does not match the manifest's/);
  });

  it('a wrong digest in the manifest', async () => {
    const sub = mkdtempSync(join(dir, 'wrong-'));
    for (const f of ['app.ovf', 'app-disk1.vmdk', 'app-disk2.vmdk']) copyFileSync(join(dir, f), join(sub, f));
    const good = manifestFor(sub, ['app.ovf', 'app-disk1.vmdk', 'app-disk2.vmdk']);
    const wrong = good.replace(/(app-disk1\.vmdk\)= )([0-9a-f])/, (_m, p: string, c: string) => p + (c === '0' ? '1' : '0'));
    expect(wrong).not.toBe(good);
    const path = makeOva(sub, join(sub, 'wrong.ova'), 'app.ovf', ['app-disk1.vmdk', 'app-disk2.vmdk'], { manifest: wrong });
    await expect(verifyPackage(path)).rejects.toThrow(/app-disk1\.vmdk: SHA256 digest .* does not match/);
  });

  it('a truncated tar', async () => {
    const cut = variant('cut.ova', (b) => b.subarray(0, b.length - 40_000));
    await expect(verifyPackage(cut)).rejects.toThrow(/cut\.ova: truncated/);
    const mid = variant('mid.ova', (b) => b.subarray(0, 3000));
    await expect(verifyPackage(mid)).rejects.toThrow(/truncated/);
  });

  it('a descriptor that references a missing file', async () => {
    const sub = mkdtempSync(join(dir, 'missing-'));
    copyFileSync(join(dir, 'app-disk1.vmdk'), join(sub, 'app-disk1.vmdk'));
    writeFileSync(join(sub, 'app.ovf'), descriptor());
    const path = makeOva(sub, join(sub, 'm.ova'), 'app.ovf', ['app-disk1.vmdk']);
    await expect(verifyPackage(path)).rejects.toThrow(/m\.ova: the descriptor references app-disk2\.vmdk, which is not in the package/);
  });

  it('a file the manifest does not list, and a package without a manifest', async () => {
    const sub = mkdtempSync(join(dir, 'unlisted-'));
    for (const f of ['app.ovf', 'app-disk1.vmdk', 'app-disk2.vmdk']) copyFileSync(join(dir, f), join(sub, f));
    const mf = manifestFor(sub, ['app.ovf', 'app-disk1.vmdk']);
    await expect(verifyPackage(makeOva(sub, join(sub, 'u.ova'), 'app.ovf', ['app-disk1.vmdk', 'app-disk2.vmdk'], { manifest: mf }))).rejects.toThrow(
      /app-disk2\.vmdk is not listed in app\.mf/,
    );
    await expect(verifyPackage(makeOva(sub, join(sub, 'n.ova'), 'app.ovf', ['app-disk1.vmdk', 'app-disk2.vmdk'], { manifest: false }))).rejects.toThrow(/no \.mf manifest/);
  });

  it('a disk image larger than the descriptor declares', async () => {
    const sub = mkdtempSync(join(dir, 'larger-'));
    for (const f of ['app-disk1.vmdk', 'app-disk2.vmdk']) copyFileSync(join(dir, f), join(sub, f));
    writeFileSync(join(sub, 'app.ovf'), descriptor([
      { file: 'app-disk1.vmdk', capacity: 2 * MiB },
      { file: 'app-disk2.vmdk', capacity: size2 },
    ]));
    await expect(verifyPackage(makeOva(sub, join(sub, 'l.ova'), 'app.ovf', ['app-disk1.vmdk', 'app-disk2.vmdk']))).rejects.toThrow(
      /app-disk1\.vmdk holds a disk of 9441280 bytes, larger than the 2097152 bytes the descriptor declares for 'vmdisk1'/,
    );
  });

  it('a hostile descriptor, even with matching digests', async () => {
    const sub = mkdtempSync(join(dir, 'hostile-'));
    for (const f of ['app-disk1.vmdk', 'app-disk2.vmdk']) copyFileSync(join(dir, f), join(sub, f));
    writeFileSync(join(sub, 'app.ovf'), descriptor().replace('<Envelope', '<!DOCTYPE e [<!ENTITY a "a">]>\n<Envelope'));
    await expect(verifyPackage(makeOva(sub, join(sub, 'h.ova'), 'app.ovf', ['app-disk1.vmdk', 'app-disk2.vmdk']))).rejects.toThrow(/DTD/);
  });

  it('a flat VMDK whose extent lies outside the package', async () => {
    const sub = mkdtempSync(join(dir, 'escape-'));
    qemuImage(sub, 'f.vmdk', raw2, 'vmdk', 'monolithicFlat');
    writeFileSync(join(sub, 'f.vmdk'), readFileSync(join(sub, 'f.vmdk'), 'utf8').replace('"f-flat.vmdk"', '"../f-flat.vmdk"'));
    writeFileSync(join(sub, 'f.ovf'), descriptor([{ file: 'f.vmdk', capacity: size2 }]));
    writeFileSync(join(sub, 'f.mf'), manifestFor(sub, ['f.ovf', 'f.vmdk']));
    await expect(verifyPackage(join(sub, 'f.ovf'))).rejects.toThrow(/f\.vmdk: extent '\.\.\/f-flat\.vmdk' is not a plain name inside the package/);
  });

  it('a file that is not a tar', async () => {
    writeFileSync(join(dir, 'junk.ova'), Buffer.alloc(4096, 7));
    await expect(verifyPackage(join(dir, 'junk.ova'))).rejects.toThrow(PackageError);
    await expect(verifyPackage(join(dir, 'junk.ova'))).rejects.toThrow(/junk\.ova: member header at byte 0: (bad header checksum|checksum is not an octal number)/);
  });
});

describe('openPackageDisk', () => {
  it('fails the stream when the member changed after verification, before its last byte is out', async () => {
    const path = join(dir, 'later.ova');
    copyFileSync(ova, path);
    const pkg = await verifyPackage(path);
    const b = readFileSync(path);
    const at = b.lastIndexOf('KDMV') + 700;
    b[at]! ^= 0x01;
    writeFileSync(path, b);
    const d = openPackageDisk(pkg, 'app-disk2.vmdk');
    const seen = createHash('sha256');
    let bytes = 0;
    await expect(
      (async () => {
        for await (const c of d.stream) {
          seen.update(c as Buffer);
          bytes += (c as Buffer).length;
        }
      })(),
    ).rejects.toThrow(/app-disk2\.vmdk: changed since it was verified/);
    expect(bytes).toBeLessThan(d.length);
  });
});

describe('outlinePackage', () => {
  it("gives a plan the disks' sizes without reading the images whole", async () => {
    const o = await outlinePackage(ova);
    expect(o.envelope.systems[0]!.disks.map((d) => d.file?.href)).toEqual(['app-disk1.vmdk', 'app-disk2.vmdk']);
    expect([...o.disks.values()].map((d) => [d.href, d.layout, d.virtualSize])).toEqual([
      ['app-disk1.vmdk', 'vmdk-streamOptimized', size1],
      ['app-disk2.vmdk', 'vmdk-streamOptimized', size2],
    ]);
  });

  it('reads a .ovf folder, and refuses a truncated archive', async () => {
    const sub = mkdtempSync(join(dir, 'outline-'));
    qemuImage(sub, 'f.vmdk', raw2, 'vmdk', 'monolithicFlat');
    writeFileSync(join(sub, 'f.ovf'), descriptor([{ file: 'f.vmdk', capacity: size2 }]));
    expect((await outlinePackage(join(sub, 'f.ovf'))).disks.get('f.vmdk')).toMatchObject({ layout: 'vmdk-flat', virtualSize: size2 });
    writeFileSync(join(sub, 'cut.ova'), readFileSync(ova).subarray(0, 40_000));
    await expect(outlinePackage(join(sub, 'cut.ova'))).rejects.toThrow(/cut\.ova: truncated/);
  });
});
