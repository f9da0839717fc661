/**
 * End to end: a config drive built with genisoimage, uploaded with VdiTransfer into a simulator VDI, downloaded from
 * GET /export_raw_vdi, and read back with isoinfo.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildConfigDrive, configDriveFiles } from '../../src/disk-content/index.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { disposeVdiContent } from '../../src/sim/vdi-content/handlers.js';
import { VdiTransfer } from '../../src/xapi/vdi-transfer.js';
import { jsonOk, login } from '../sim/helpers.js';
import { isoVolumeLabel } from './iso.js';

let sim: Simulator;
let dir: string;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  dir = mkdtempSync(join(tmpdir(), 'xops-cidata-e2e-'));
});
afterAll(async () => {
  disposeVdiContent(sim.db);
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('a config drive survives upload and export byte for byte, label and files intact', async () => {
  const files = configDriveFiles({ userData: '#cloud-config\nhostname: app-1\nruncmd: [[touch, /ok]]\n' }, 'app-1', '4f1c0b9e-vm');
  const image = join(dir, 'cidata.iso');
  const built = await buildConfigDrive(files, image);

  const session = await login(sim);
  const sr = sim.db.byName('SR', 'pool-nfs').ref;
  const vdi = await jsonOk(sim.url, 'VDI.create', session, {
    SR: sr,
    virtual_size: built.vdiSize,
    type: 'user',
    sharable: false,
    read_only: false,
    other_config: {},
    name_label: 'app-1 config drive',
  });
  const transfer = new VdiTransfer({ url: sim.url, session });
  try {
    await transfer.upload(vdi, { path: image });
    const back = join(dir, 'back.img');
    await transfer.download(vdi, createWriteStream(back));
    const original = readFileSync(image);
    const exported = readFileSync(back);
    // The storage driver rounds the disk up (2 MiB for SM's VHD-based SRs): export gives the whole disk.
    const size = Number(await jsonOk(sim.url, 'VDI.get_virtual_size', session, vdi));
    expect(size).toBeGreaterThanOrEqual(built.vdiSize);
    expect(exported.length).toBe(size);
    expect(exported.subarray(0, original.length).equals(original)).toBe(true);
    expect(exported.subarray(original.length).equals(Buffer.alloc(size - original.length))).toBe(true);
    expect(isoVolumeLabel(exported)).toBe('cidata');
    expect(execFileSync('isoinfo', ['-i', back, '-R', '-x', '/user-data'], { encoding: 'utf8' })).toBe(files['user-data']);
    expect(execFileSync('isoinfo', ['-i', back, '-R', '-x', '/meta-data'], { encoding: 'utf8' })).toMatch(/^instance-id: 4f1c0b9e-vm$/m);
  } finally {
    await transfer.close();
  }
});
