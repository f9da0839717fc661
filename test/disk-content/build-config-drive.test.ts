/**
 * Builds real config drives with genisoimage and reads them back with isoinfo (both from Debian's genisoimage
 * package) and by parsing the ISO 9660 primary volume descriptor.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigDriveBuildError, buildConfigDrive } from '../../src/disk-content/build-config-drive.js';
import { configDriveFiles } from '../../src/disk-content/config-drive.js';
import { isoVolumeLabel } from './iso.js';

const dir = mkdtempSync(join(tmpdir(), 'xops-cidata-test-'));
// The builder's scratch folders go under os.tmpdir(): a private one here, so that drives other
// test files build at the same time (another worker) are not taken for this builder's leftovers.
const scratch = mkdtempSync(join(tmpdir(), 'xops-cidata-scratch-'));
const outerTmp = process.env.TMPDIR;
beforeAll(() => {
  process.env.TMPDIR = scratch;
});
afterAll(() => {
  if (outerTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = outerTmp;
  rmSync(dir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const isoinfo = (...args: string[]): string => execFileSync('isoinfo', args, { encoding: 'utf8' });
const leftovers = (): string[] => readdirSync(scratch).filter((n) => n.startsWith('xops-cidata-'));

describe('buildConfigDrive', () => {
  it('makes an ISO labelled cidata carrying the three files under their NoCloud names', async () => {
    const files = configDriveFiles(
      { userData: '#cloud-config\nusers: [{name: ops}]\n', networkConfig: { version: 2, ethernets: { eth0: { dhcp4: true } } } },
      'web-1',
      'f0e1d2c3',
    );
    const before = leftovers();
    const img = join(dir, 'drive.iso');
    const built = await buildConfigDrive(files, img);
    expect(built.bytes).toBe(readFileSync(img).length);
    expect(built.vdiSize % (1024 * 1024)).toBe(0);
    expect(built.vdiSize).toBeGreaterThanOrEqual(built.bytes);
    expect(isoVolumeLabel(readFileSync(img))).toBe('cidata');
    expect(isoinfo('-d', '-i', img)).toMatch(/^Volume id: cidata$/m);
    // Rock Ridge names are what Linux mounts show and what cloud-init reads.
    expect(isoinfo('-i', img, '-R', '-x', '/user-data')).toBe(files['user-data']);
    expect(isoinfo('-i', img, '-R', '-x', '/meta-data')).toBe(files['meta-data']);
    expect(isoinfo('-i', img, '-R', '-x', '/network-config')).toBe(files['network-config']);
    expect(isoinfo('-i', img, '-J', '-x', '/user-data')).toBe(files['user-data']);
    expect(leftovers()).toEqual(before);
  });

  it('leaves out network-config when there is none', async () => {
    const img = join(dir, 'plain.iso');
    await buildConfigDrive(configDriveFiles({ userData: '#!/bin/sh\necho hi\n' }, 'h', 'i'), img);
    const names = isoinfo('-i', img, '-R', '-f').trim().split('\n').sort();
    expect(names).toEqual(['/meta-data', '/user-data']);
  });

  it('says which package is missing when the tool is not there, and cleans up', async () => {
    const before = leftovers();
    const files = configDriveFiles({ userData: '' }, 'h', 'i');
    await expect(buildConfigDrive(files, join(dir, 'x.iso'), { tool: 'no-such-genisoimage' })).rejects.toThrow(
      new ConfigDriveBuildError('no-such-genisoimage not found: the controller host needs Debian package genisoimage to build config drives'),
    );
    expect(leftovers()).toEqual(before);
  });
});
