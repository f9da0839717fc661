/**
 * End to end against the simulator over real HTTP: a qemu-img streamOptimized VMDK inside a GNU-tar OVA is
 * verified, converted as it streams through `uploadPackageDisk` into a VDI (PUT /import_raw_vdi), and read back
 * with GET /export_raw_vdi byte-identical to the raw image it was made from. A corrupt package is refused before
 * any VDI exists; a package changed after verification fails its upload (docs/disk-content.md for the handlers).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackageError, verifyPackage } from '../../src/ova/package.js';
import { packageVerifier, uploadPackageDisk } from '../../src/ova/upload.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { disposeVdiContent } from '../../src/sim/vdi-content/handlers.js';
import { VdiTransfer, type TransferProgress } from '../../src/xapi/vdi-transfer.js';
import { jsonOk, login } from '../sim/helpers.js';
import { makeOva, MiB, qemuImage, sampleRaw, vmwareOvf } from './fixtures.js';

let sim: Simulator;
let session: string;
let dir: string;
let transfer: VdiTransfer;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, session, ...params);
const size = 9 * MiB + 4096;
const raw = sampleRaw(size, 5);
let ova: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  session = await login(sim);
  transfer = new VdiTransfer({ url: sim.url, session });
  dir = mkdtempSync(join(tmpdir(), 'xops-ova-e2e-'));
  qemuImage(dir, 'vm-disk1.vmdk', raw, 'vmdk', 'streamOptimized');
  writeFileSync(join(dir, 'vm.ovf'), vmwareOvf({ name: 'vm', vcpus: 2, memoryMiB: 1024, networks: ['VM Network'], disks: [{ file: 'vm-disk1.vmdk', capacity: size }] }));
  ova = makeOva(dir, join(dir, 'vm.ova'), 'vm.ovf', ['vm-disk1.vmdk']);
});
afterAll(async () => {
  await transfer.close();
  disposeVdiContent(sim.db);
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function newVdi(bytes: number): Promise<string> {
  const sr = sim.db.byName('SR', 'pool-nfs').ref;
  return call('VDI.create', { SR: sr, virtual_size: bytes, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'vm-disk1' });
}

async function readBack(vdi: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  await transfer.download(vdi, sink);
  return Buffer.concat(chunks);
}

const vdiCount = async (): Promise<number> => Object.keys(await call('VDI.get_all_records')).length;

/**
 * The disk holds the image, then zeros: the storage manager rounds a VDI's size up (2 MiB for SM's
 * VHD-based SRs, test/sim/xapi-rules.test.ts), so a read-back may be longer than the image.
 */
function sameContent(disk: Buffer, image: Buffer): boolean {
  return disk.length >= image.length && disk.subarray(0, image.length).equals(image) && disk.subarray(image.length).every((b) => b === 0);
}

describe('uploading an OVA disk into the simulator', () => {
  it('reads back byte-identical to the source raw image, with progress', async () => {
    const pkg = await verifyPackage(ova);
    const disk = pkg.disks.get('vm-disk1.vmdk')!;
    const vdi = await newVdi(disk.virtualSize);
    const seen: TransferProgress[] = [];
    await uploadPackageDisk(transfer, vdi, pkg, 'vm-disk1.vmdk', { onProgress: (p) => seen.push(p) });
    expect(sameContent(await readBack(vdi), raw)).toBe(true);
    expect(seen.at(-1)).toEqual({ bytes: size, total: size });
    expect(seen.length).toBeGreaterThan(2);
  });

  it('uploads a VHD member as VHD, which the host decodes', async () => {
    const sub = join(dir, 'vhd');
    mkdirSync(sub);
    // 8160 KiB: a size qemu-img's CHS geometry covers exactly (docs/disk-content.md).
    const vhdRaw = sampleRaw(240 * 4 * 17 * 512, 9);
    qemuImage(sub, 'd.vhd', vhdRaw, 'vpc', 'dynamic');
    writeFileSync(join(sub, 'v.ovf'), vmwareOvf({ name: 'v', vcpus: 1, memoryMiB: 512, networks: [], disks: [{ file: 'd.vhd', capacity: vhdRaw.length, formatUri: 'http://go.microsoft.com/fwlink/?LinkId=137171' }] }));
    const pkg = await verifyPackage(makeOva(sub, join(sub, 'v.ova'), 'v.ovf', ['d.vhd']));
    const vdi = await newVdi(vhdRaw.length);
    await uploadPackageDisk(transfer, vdi, pkg, 'd.vhd');
    expect(sameContent(await readBack(vdi), vhdRaw)).toBe(true);
  });

  it('refuses a corrupt package before anything is created', async () => {
    const bad = join(dir, 'bad.ova');
    const b = readFileSync(ova);
    b[b.lastIndexOf('KDMV') + 1000]! ^= 0x40;
    writeFileSync(bad, b);
    const before = await vdiCount();
    // The order an applier follows: verify, then create, then upload.
    const verify = packageVerifier();
    await expect(verify(bad)).rejects.toThrow(PackageError);
    expect(await vdiCount()).toBe(before);
  });

  it('fails the upload of a package changed after verification, naming the cause', async () => {
    const later = join(dir, 'later.ova');
    writeFileSync(later, readFileSync(ova));
    const pkg = await verifyPackage(later);
    const b = readFileSync(later);
    b[b.lastIndexOf('KDMV') + 1000]! ^= 0x01; // in the VMDK's embedded descriptor, which the converter skips
    writeFileSync(later, b);
    const vdi = await newVdi(size);
    await expect(uploadPackageDisk(transfer, vdi, pkg, 'vm-disk1.vmdk')).rejects.toThrow(/changed since it was verified/);
  });

  it('verifies a package once while it is unchanged', async () => {
    const verify = packageVerifier();
    const a = await verify(ova);
    expect(await verify(ova)).toBe(a);
  });
});
