/**
 * The simulated guest's side of a config drive: the ISO 9660 reader finds files of a genisoimage-built
 * drive by their Rock Ridge names, and network-config v1/v2 become static addresses per VIF device.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfigDrive, configDriveFiles } from '../../src/disk-content/index.js';
import { staticAddresses } from '../../src/sim/behaviour/network-config.js';
import { isoLabel, readIsoRootFile } from '../../src/sim/vdi-content/iso9660.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xops-iso-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('ISO 9660 root directory reader', () => {
  it('reads user-data, meta-data and network-config back from a genisoimage drive, and nothing else', async () => {
    const files = configDriveFiles({ userData: '#cloud-config\nhostname: a\n', networkConfig: 'version: 2\n' }, 'a', 'id-1');
    const built = await buildConfigDrive(files, join(dir, 'a.iso'));
    const image = await readFile(built.path);
    const read = (offset: number, length: number) => {
      const out = Buffer.alloc(length);
      image.copy(out, 0, offset, Math.min(image.length, offset + length));
      return out;
    };
    expect(isoLabel(read)).toBe('cidata');
    for (const name of ['user-data', 'meta-data', 'network-config'] as const) expect(readIsoRootFile(read, name, 1 << 20)?.toString('utf8')).toBe(files[name]);
    expect(readIsoRootFile(read, 'vendor-data', 1 << 20)).toBeUndefined();
    // A file over the reader's bound is not read at all.
    expect(readIsoRootFile(read, 'user-data', 4)).toBeUndefined();
    expect(isoLabel(() => Buffer.alloc(2048))).toBeUndefined();
  });
});

describe('network-config → static addresses', () => {
  const nics = [{ device: '0', mac: '52:54:00:00:00:0a' }, { device: '1', mac: '52:54:00:00:00:0b' }];
  const cases: { why: string; text: string; want: Record<string, { ipv4: string[]; ipv6: string[] }> }[] = [
    {
      why: 'v2 by name: eth1 is VIF 1; the prefix length is dropped, IPv6 kept apart',
      text: 'version: 2\nethernets:\n  eth1: {addresses: [10.1.0.5/24, "fd00::5/64"]}\n',
      want: { '1': { ipv4: ['10.1.0.5'], ipv6: ['fd00::5'] } },
    },
    {
      why: 'v2 matched by MAC wins over the name, under a network: key as NoCloud also allows',
      text: 'network:\n  version: 2\n  ethernets:\n    lan: {match: {macaddress: "52:54:00:00:00:0B"}, addresses: [10.2.0.7/16]}\n',
      want: { '1': { ipv4: ['10.2.0.7'], ipv6: [] } },
    },
    {
      why: 'v1 physical with static and dhcp subnets: only the static address counts; a DHCP-only NIC is left out',
      text: 'version: 1\nconfig:\n  - {type: physical, name: eth0, subnets: [{type: dhcp}, {type: static, address: 192.168.1.9/24}]}\n  - {type: physical, name: eth1, subnets: [{type: dhcp}]}\n',
      want: { '0': { ipv4: ['192.168.1.9'], ipv6: [] } },
    },
    { why: 'YAML the guest cannot parse configures nothing (DHCP then)', text: 'version: 2\nethernets: [', want: {} },
    { why: 'an unknown version configures nothing', text: 'version: 3\nethernets: {eth0: {addresses: [1.2.3.4/8]}}\n', want: {} },
  ];
  for (const c of cases) {
    it(c.why, () => {
      expect(Object.fromEntries(staticAddresses(c.text, nics))).toEqual(c.want);
    });
  }
});
