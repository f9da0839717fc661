/**
 * loadManifestFilesYielding lets the event loop run while it loads (a cold `xops plan` of 10,000
 * manifests otherwise stalled for close to half a second): the same result as loadManifestFiles,
 * problems included.
 */
import { describe, expect, it } from 'vitest';
import { loadManifestFiles, loadManifestFilesYielding, type ManifestFile } from '../../src/manifests/index.js';
import { ManifestCache } from '../../src/manifests/parse-cache.js';

const vm = (i: number) => `apiVersion: xops/v1
kind: VM
metadata:
  name: vm-${i}
spec:
  template: Debian Bookworm 12
  vcpus: ${1 + (i % 4)}
  memory: ${1 + (i % 3)}GiB
  disks:
    - {name: root, size: 20GiB}
  networks:
    - network: lan
`;

/** 1,200 VMs on a network a manifest declares, one VM with an unknown field and one with a size that is none. */
function repository(): ManifestFile[] {
  const files: ManifestFile[] = [{ path: 'networks/lan.yaml', content: Buffer.from('apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: lan\nspec:\n  nameLabel: lan\n') }];
  for (let i = 0; i < 1200; i++) files.push({ path: `vms/vm-${String(i).padStart(4, '0')}.yaml`, content: Buffer.from(vm(i)) });
  files[7] = { ...files[7]!, content: Buffer.from(vm(6).replace('vcpus:', 'vcpu:')) };
  files[9] = { ...files[9]!, content: Buffer.from(vm(8).replace(/memory: \S+/, 'memory: lots')) };
  return files;
}

describe('loading that lets the event loop run', () => {
  it('gives the result loadManifestFiles gives, and other work runs while it loads', async () => {
    const files = repository();
    const expected = loadManifestFiles(files, 'repo', { commit: 'c1' });
    expect(expected.desired.vms.length).toBe(1198);
    expect(expected.diagnostics.map((d) => d.location?.file)).toEqual(expect.arrayContaining(['vms/vm-0006.yaml', 'vms/vm-0008.yaml']));
    // Queued before the load starts: it runs only if the load gives the event loop a turn.
    let turns = 0;
    const tick = () => {
      turns++;
      if (turns < 1000) ticker = setImmediate(tick);
    };
    let ticker = setImmediate(tick);
    const got = await loadManifestFilesYielding(files, 'repo', { commit: 'c1' });
    clearImmediate(ticker);
    // 1,201 files parsed and built in steps of a few hundred: several turns, not one at the end.
    expect(turns).toBeGreaterThan(4);
    expect(got).toEqual(expected);
  });

  it('fills a parse cache that a later load through it reuses, with the same result', async () => {
    const files = repository();
    const cache = new ManifestCache();
    const expected = loadManifestFiles(files, 'repo', { commit: 'c1' });
    const first = await loadManifestFilesYielding(files, 'repo', { commit: 'c1', cache });
    expect(first).toEqual(expected);
    const again = loadManifestFiles(files, 'repo', { commit: 'c1', cache });
    expect(again).toEqual(expected);
    expect(cache.stats.reused).toBeGreaterThanOrEqual(files.length);
  });
});
