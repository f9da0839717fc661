/**
 * `cloudInit` parts given as `{file: PATH}` in the controller's main mode: the Git source carries the
 * small files beside the manifests (manifests/companion-files.ts), so a commit's user-data is read
 * from that commit, through the same cache the controller loads with, and an edit of the user-data
 * alone is a new text, never a stale one kept with the unchanged manifest.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManifestCache } from '../../src/manifests/parse-cache.js';
import { GitSource } from '../../src/source/git-source.js';
import { GitFixture } from '../source/git-fixture.js';

const VM = `apiVersion: xops/v1
kind: VM
metadata: {name: web-01}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: 1GiB
  networks: []
  powerState: running
  cloudInit:
    userData: {file: cloud/web.user-data}
    networkConfig: {file: cloud/web.network-config}
`;

const fixtures: GitFixture[] = [];
afterEach(() => {
  for (const f of fixtures.splice(0)) f.cleanup();
});

describe('cloudInit files from a Git commit', () => {
  it('reads each part from the commit in force, and an edit of the user-data alone gives the new text', async () => {
    const f = new GitFixture();
    fixtures.push(f);
    f.write({ 'vm.yaml': VM, 'cloud/web.user-data': '#cloud-config\nhostname: one\n', 'cloud/web.network-config': 'version: 2\n' });
    f.commit('first');
    const source = new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot });
    const cache = new ManifestCache();

    const first = await source.sync();
    const loaded = cache.load(first.files, 'repo', { commit: first.commit });
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(loaded.desired.vms[0]!.spec.cloudInit).toMatchObject({ userData: '#cloud-config\nhostname: one\n', networkConfig: 'version: 2\n' });

    f.write({ 'cloud/web.user-data': '#cloud-config\nhostname: two\n' });
    f.commit('only the user-data');
    const second = await source.sync();
    expect(cache.load(second.files, 'repo', { commit: second.commit }).desired.vms[0]!.spec.cloudInit?.userData).toBe('#cloud-config\nhostname: two\n');
  });

  it('names a part that is not in the commit, at its field', async () => {
    const f = new GitFixture();
    fixtures.push(f);
    f.write({ 'vm.yaml': VM, 'cloud/web.user-data': '#cloud-config\n' });
    f.commit('no network-config');
    const snapshot = await new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot }).sync();
    const { desired } = new ManifestCache().load(snapshot.files, 'repo', { commit: snapshot.commit });
    expect(desired.vms[0]!.spec.cloudInit?.files?.networkConfig).toMatchObject({ read: false, problem: expect.stringContaining('is not a file of the manifests folder') });
  });
});
