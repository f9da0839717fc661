import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ConfigDriveError, MAX_CONFIG_FILE_BYTES, configDriveFiles } from '../../src/disk-content/config-drive.js';

describe('configDriveFiles', () => {
  it('writes user-data as given and meta-data with the instance id and host name', () => {
    const files = configDriveFiles({ userData: '#cloud-config\npackages: [nginx]\n' }, 'web-1', 'vm-uuid-1');
    expect(files['user-data']).toBe('#cloud-config\npackages: [nginx]\n');
    expect(load(files['meta-data'])).toEqual({ 'instance-id': 'vm-uuid-1', 'local-hostname': 'web-1' });
    expect(files['network-config']).toBeUndefined();
  });

  it('adds network-config from text or from a mapping, and extra meta-data keys', () => {
    const net = { version: 2, ethernets: { eth0: { dhcp4: true } } };
    const fromObject = configDriveFiles({ userData: '', networkConfig: net, metaData: { 'availability-zone': 'lab' } }, 'db.example.org', 'i-2');
    expect(load(fromObject['network-config']!)).toEqual(net);
    expect(load(fromObject['meta-data'])).toEqual({ 'instance-id': 'i-2', 'local-hostname': 'db.example.org', 'availability-zone': 'lab' });
    const text = 'version: 1\nconfig: []\n';
    expect(configDriveFiles({ userData: '', networkConfig: text }, 'h', 'i')['network-config']).toBe(text);
  });

  it('quotes values so meta-data stays the YAML it means', () => {
    const files = configDriveFiles({ userData: '', metaData: { note: 'a: b # not a comment' } }, 'h', 'id: with colon');
    expect(load(files['meta-data'])).toEqual({ 'instance-id': 'id: with colon', 'local-hostname': 'h', note: 'a: b # not a comment' });
  });

  it.each([
    ['a reserved meta-data key', { userData: '', metaData: { 'instance-id': 'x' } }, 'h', 'i', 'metaData.instance-id'],
    ['a bad host name', { userData: '' }, 'not_a_host', 'i', 'metaData.local-hostname'],
    ['a multi-line instance id', { userData: '' }, 'h', 'a\nb', 'metaData.instance-id'],
    ['an oversized user-data', { userData: 'x'.repeat(MAX_CONFIG_FILE_BYTES + 1) }, 'h', 'i', 'userData'],
    ['a network-config list', { userData: '', networkConfig: [] as unknown as string }, 'h', 'i', 'networkConfig'],
  ])('refuses %s, naming the field', (_why, spec, host, id, field) => {
    const e = (() => {
      try {
        configDriveFiles(spec, host, id);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(ConfigDriveError);
    expect((e as ConfigDriveError).field).toBe(field);
    expect((e as Error).message).toMatch(new RegExp(`^cloudInit\\.${field.replace('.', '\\.')}: `));
  });
});
