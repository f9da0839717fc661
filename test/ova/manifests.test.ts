/** The manifests an import writes (pure), for the cases the CLI test does not reach. */
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { importManifests, sizeText } from '../../src/ova/manifests.js';
import { parseOvf } from '../../src/ova/ovf.js';
import type { VerifiedPackage } from '../../src/ova/package.js';
import { vmwareOvf } from './fixtures.js';

const GiB = 1024 ** 3;

function pkgOf(text: string): VerifiedPackage {
  return { path: 'p.ova', kind: 'ova', descriptorName: 'p.ovf', envelope: parseOvf(text, 'p.ovf'), members: new Map(), digests: new Map(), disks: new Map() };
}

describe('importManifests', () => {
  it('writes a disk without a file as a Disk without source, and keeps names within 63 characters', () => {
    const long = 'A very long appliance name that goes on and on past what a manifest name may hold';
    const text = vmwareOvf({ name: long, vcpus: 1, memoryMiB: 1536, networks: [], disks: [{ file: 'x.vmdk', capacity: 10 * GiB }] }).replace(' ovf:fileRef="file1"', '');
    const r = importManifests(pkgOf(text), { packageRef: 'p.ova', networks: new Map() });
    const vm = r.files.find((f) => f.address.startsWith('VM/'))!;
    const disk = r.files.find((f) => f.address.startsWith('Disk/'))!;
    const vmDoc = load(vm.content) as any;
    expect(vmDoc.metadata.name.length).toBeLessThanOrEqual(63);
    expect(vmDoc.spec.nameLabel).toBe(long);
    expect(vmDoc.spec.memory).toBe('1536MiB');
    const diskDoc = load(disk.content) as any;
    expect(diskDoc.metadata.name.length).toBeLessThanOrEqual(63);
    expect(diskDoc.metadata.name).toMatch(/-disk1$/);
    expect(diskDoc.spec).toEqual({ size: '10GiB' });
    expect(vmDoc.spec.disks).toEqual([{ disk: diskDoc.metadata.name }]);
    expect(r.summary).toEqual([{ address: `VM/${vmDoc.metadata.name}`, disks: 1, uploadBytes: 0 }]);
  });

  it('writes sizes in the largest binary unit that divides them', () => {
    expect([sizeText(2 * GiB), sizeText(1536 * 1024 ** 2), sizeText(1000)]).toEqual(['2GiB', '1536MiB', 1000]);
  });
});
