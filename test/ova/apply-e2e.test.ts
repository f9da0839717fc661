/**
 * `xops import-ova` then apply, as an operator runs them: the Disk manifest the import writes names the
 * OVA member; apply verifies the package against its `.mf`, converts the streamOptimized VMDK while it
 * uploads, and the disk read back with GET /export_raw_vdi holds exactly the source raw image. A
 * corrupted package creates nothing.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeVdiContent } from '../../src/sim/vdi-content/handlers.js';
import { VdiTransfer } from '../../src/xapi/vdi-transfer.js';
import { applyFolder, failures, simWithClient } from '../apply/helpers.js';
import { makeOva, MiB, qemuImage, sampleRaw, vmwareOvf } from './fixtures.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/src/cli.js');
let env: Awaited<ReturnType<typeof simWithClient>>;
let dir: string;
const size = 6 * MiB;
const raw = sampleRaw(size, 7);

beforeAll(async () => {
  env = await simWithClient();
  dir = mkdtempSync(join(tmpdir(), 'xops-ova-apply-'));
  mkdirSync(join(dir, 'repo/images'), { recursive: true });
  qemuImage(dir, 'app-disk1.vmdk', raw, 'vmdk', 'streamOptimized');
  writeFileSync(join(dir, 'app.ovf'), vmwareOvf({ name: 'app', vcpus: 2, memoryMiB: 1024, networks: ['VM Network'], disks: [{ file: 'app-disk1.vmdk', capacity: size }] }));
  makeOva(dir, join(dir, 'repo/images/app.ova'), 'app.ovf', ['app-disk1.vmdk']);
});
afterAll(async () => {
  disposeVdiContent(env.sim.db);
  await env.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function readBack(vdi: string): Promise<Buffer> {
  const [endpoint] = [await env.client.transferEndpoint()];
  const transfer = new VdiTransfer(endpoint);
  const chunks: Buffer[] = [];
  await transfer.download(vdi, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
  return Buffer.concat(chunks);
}

describe('an imported OVA disk, applied', () => {
  it('is uploaded from the package, converted, and reads back byte-identical to the source image', async () => {
    await run(process.execPath, [CLI, 'import-ova', 'repo/images/app.ova', '--dir', 'repo', '--sr', 'pool-nfs', '--network', 'VM Network=Pool-wide network associated with eth0'], { cwd: dir });
    // What the import writes is valid as it stands: firmware, cores, NICs and Disk attachments included.
    const valid = await run(process.execPath, [CLI, 'validate', 'repo', '--offline'], { cwd: dir });
    expect(valid.stdout).toMatch(/^valid: 2 manifests/);
    // Applied as an operator does: `xops apply` on the folder the import wrote, VM and Disk together.
    const env2 = { ...process.env, XOPS_XAPI_URL: env.sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', XDG_CACHE_HOME: join(dir, 'cache'), NO_COLOR: '1' };
    const applied = await run(process.execPath, [CLI, 'apply', 'repo', '--yes'], { cwd: dir, env: env2 });
    expect(applied.stdout).toMatch(/\+ create Disk\/app-disk1[\s\S]*\+ create VM\/app/);
    expect(applied.stdout).toMatch(/Apply complete: 2 succeeded, 0 failed/);
    const [vm] = await env.client.call<string[]>('VM.get_by_name_label', 'app');
    expect(await env.client.call<string[]>('VM.get_VBDs', vm)).toHaveLength(1);
    const [vdi] = await env.client.call<string[]>('VDI.get_by_name_label', 'app-disk1');
    const back = await readBack(vdi!);
    expect(back.subarray(0, raw.length).equals(raw)).toBe(true);
    expect(back.subarray(raw.length).every((b) => b === 0)).toBe(true);
    const oc = await env.client.call<Record<string, string>>('VDI.get_other_config', vdi);
    expect(oc['xops.content']).toMatch(/^sha(1|256):[0-9a-f]+$/);
  });

  it('refuses a package corrupted after the import, creating no disk', async () => {
    const path = join(dir, 'repo/images/app.ova');
    const b = readFileSync(path);
    b[b.lastIndexOf('KDMV') + 900]! ^= 0x08;
    writeFileSync(path, b);
    // A second disk from the now corrupted package (the VM manifest, already applied, is left out).
    unlinkSync(join(dir, 'repo/vms/app.yaml'));
    writeFileSync(join(dir, 'repo/disks/app-disk1.yaml'), readFileSync(join(dir, 'repo/disks/app-disk1.yaml'), 'utf8').replace('name: app-disk1', 'name: app-disk2'));
    const before = await env.client.call<string[]>('VDI.get_all');
    const { result } = await applyFolder(env.client, join(dir, 'repo'));
    expect(failures(result).join('\n')).toMatch(/create:Disk\/app-disk2: failed: .*package 'images\/app\.ova'/);
    expect((await env.client.call<string[]>('VDI.get_all')).length).toBe(before.length);
  });
});
