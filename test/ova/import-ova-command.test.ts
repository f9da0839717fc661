/**
 * `xops import-ova` as a user runs it (the built CLI in a child process) on an OVA made by GNU tar and qemu-img
 * with a VMware-shaped descriptor: the VM and Disk manifests match the descriptor; a corrupt package writes nothing.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeOva, MiB, qemuImage, sampleRaw, vmwareOvf } from './fixtures.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
let dir: string;
let ova: string;
let outside: string;

async function xops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: dir });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xops-import-ova-'));
  qemuImage(dir, 'shop-disk1.vmdk', sampleRaw(8 * MiB, 1), 'vmdk', 'streamOptimized');
  qemuImage(dir, 'shop-disk2.vmdk', sampleRaw(4 * MiB, 2), 'vmdk', 'streamOptimized');
  writeFileSync(
    join(dir, 'shop.ovf'),
    vmwareOvf({
      name: 'Shop App',
      vcpus: 4,
      coresPerSocket: 2,
      memoryMiB: 6144,
      efi: true,
      networks: ['VM Network', 'Backup'],
      disks: [
        { file: 'shop-disk1.vmdk', capacity: 16 * 1024 * MiB },
        { file: 'shop-disk2.vmdk', capacity: 4 * MiB },
      ],
    }),
  );
  outside = makeOva(dir, join(dir, 'shop.ova'), 'shop.ovf', ['shop-disk1.vmdk', 'shop-disk2.vmdk']);
  // apply reads disk images only from inside the manifests folder: the package lives there.
  mkdirSync(join(dir, 'repo/images'), { recursive: true });
  ova = join(dir, 'repo/images/shop.ova');
  copyFileSync(outside, ova);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('xops import-ova', () => {
  it('writes a VM and its Disks matching the descriptor, with notes', async () => {
    const r = await xops(['import-ova', ova, '--dir', 'repo', '--sr', 'pool-nfs', '--network', 'VM Network=prod-vlan100']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('+ create VM/shop-app from OVA, 2 disks, 12 MiB to upload at apply');
    expect(r.stdout).toMatch(/warning: network 'Backup' is not mapped/);
    const vmText = readFileSync(join(dir, 'repo/vms/shop-app.yaml'), 'utf8');
    const vm = load(vmText) as any;
    expect(vm).toEqual({
      apiVersion: 'xops/v1',
      kind: 'VM',
      metadata: { name: 'shop-app' },
      spec: {
        nameLabel: 'Shop App',
        template: 'Other install media',
        vcpus: 4,
        coresPerSocket: 2,
        memory: '6GiB',
        boot: { firmware: 'uefi' },
        disks: [{ disk: 'shop-app-disk1' }, { disk: 'shop-app-disk2' }],
        networks: [{ network: 'prod-vlan100' }, { network: 'Backup' }],
        powerState: 'halted',
      },
    });
    expect(vmText).toMatch(/^# - CD drive 'CD\/DVD drive 1': not imported/m);
    const disk1 = load(readFileSync(join(dir, 'repo/disks/shop-app-disk1.yaml'), 'utf8')) as any;
    expect(disk1).toEqual({
      apiVersion: 'xops/v1',
      kind: 'Disk',
      metadata: { name: 'shop-app-disk1' },
      spec: { size: '16GiB', sr: 'pool-nfs', source: { file: 'images/shop.ova', member: 'shop-disk1.vmdk', format: 'vmdk' } },
    });
  });

  it('refuses a package outside the manifests folder, which apply could not read', async () => {
    const r = await xops(['import-ova', outside, '--dir', 'repo']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xops: import-ova: .*shop\.ova is outside repo: apply reads disk images only from inside the manifests folder/);
  });

  it('refuses to overwrite without --force', async () => {
    const r = await xops(['import-ova', ova, '--dir', 'repo']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to overwrite 3 existing file\(s\)/);
    expect((await xops(['import-ova', ova, '--dir', 'repo', '--force', '--network', 'VM Network=prod-vlan100', '--network', 'Backup=backup'])).code).toBe(0);
  });

  it('refuses a corrupt package and writes nothing', async () => {
    const b = readFileSync(ova);
    b[b.lastIndexOf('KDMV') + 900]! ^= 0x08;
    writeFileSync(join(dir, 'bad.ova'), b);
    const r = await xops(['import-ova', 'bad.ova', '--dir', 'bad-repo']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xops: refusing bad\.ova: bad\.ova: shop-disk2\.vmdk: SHA256 digest .* does not match/);
    expect(existsSync(join(dir, 'bad-repo'))).toBe(false);
  });

  it('refuses a network mapping the package does not use', async () => {
    const r = await xops(['import-ova', ova, '--dir', 'x', '--network', 'Nope=prod']);
    expect(r.stderr).toMatch(/--network: the package has no network 'Nope' \(its NICs use: 'VM Network', 'Backup'\)/);
    expect(readdirSync(dir)).not.toContain('x');
  });
});
