/** What the loader promises the planner: defaults, bytes, resolved references, and no half-valid documents. */
import { describe, expect, it } from 'vitest';
import { loadManifestFiles, liveInventoryFrom, type ManifestFile } from '../../src/manifests/index.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import type { ObservedState } from '../../src/model/observed.js';

function files(map: Record<string, string>): ManifestFile[] {
  return Object.entries(map).map(([path, text]) => ({ path, content: Buffer.from(text) }));
}

function load(map: Record<string, string>, opts = {}) {
  const result = loadManifestFiles(files(map), 'repo', opts);
  return { ...result, lines: result.diagnostics.map(formatDiagnostic) };
}

const vm = (name: string, spec: string) => `apiVersion: xops/v1
kind: VM
metadata:
  name: ${name}
spec:
${spec.replace(/^/gm, '  ')}
`;

describe('loadManifestFiles', () => {
  it('refuses a file whose path leaves the folder or has an empty segment, and reads the others', () => {
    const text = (name: string) => vm(name, 'template: Debian Bookworm 12\nvcpus: 1\nmemory: 1GiB');
    const { desired, diagnostics } = load({
      '../outside.yaml': text('a'), 'vms/../../up.yaml': text('b'), 'vms//double.yaml': text('c'), '/abs.yaml': text('d'), 'C:/win.yaml': text('e'),
      'vms/ok..name.yaml': text('f'), './here.yaml': text('g'),
    });
    expect(diagnostics.filter((d) => d.code === 'path-escape').map((d) => d.location?.file).sort()).toEqual(['../outside.yaml', '/abs.yaml', 'C:/win.yaml', 'vms/../../up.yaml', 'vms//double.yaml']);
    // Two dots inside a name are no segment of their own.
    expect(desired.vms.map((v) => v.meta.name).sort()).toEqual(['f', 'g']);
  });

  it('applies VM defaults and normalises sizes to bytes', () => {
    const { desired, lines } = load({ 'vm.yaml': vm('web-01', 'template: Debian Bookworm 12\nvcpus: 2\nmemory: 2GiB\ndisks:\n  - {name: root, size: 20GiB}') });
    expect(lines).toEqual([]);
    expect(desired.vms[0].spec).toEqual({
      nameLabel: 'web-01',
      template: { name: 'Debian Bookworm 12', target: 'live', checked: false },
      vcpus: 2,
      vcpusMax: 2,
      memory: 2 * 2 ** 30,
      memoryMax: 2 * 2 ** 30,
      disks: [{ name: 'root', size: 20 * 2 ** 30 }],
      networks: [],
      powerState: 'running',
      tags: [],
      otherConfig: {},
    });
    expect(desired.vms[0].meta).toEqual({ name: 'web-01', labels: {}, annotations: {}, source: { file: 'vm.yaml', line: 2, col: 1 } });
  });

  it('defaults SR sharing and content type by type', () => {
    const sr = (name: string, spec: string) => `apiVersion: xops/v1\nkind: SR\nmetadata: {name: ${name}}\nspec:\n${spec.replace(/^/gm, '  ')}\n---\n`;
    const { desired, lines } = load({
      'srs.yaml':
        sr('nfs', 'type: nfs\ndeviceConfig: {server: s, serverpath: /p}') +
        sr('local', 'type: ext\nhost: xcp-host1\ndeviceConfig: {device: /dev/sdb}') +
        sr('isos', 'type: iso\ndeviceConfig: {location: /opt/iso}'),
    });
    expect(lines).toEqual([]);
    expect(desired.srs.map((s) => [s.meta.name, s.spec.shared, s.spec.contentType])).toEqual([
      ['nfs', true, 'user'],
      ['local', false, 'user'],
      ['isos', true, 'iso'],
    ]);
  });

  it('keeps unquoted scalars as written where the schema wants text (0x10, 1e3, true, 012)', () => {
    const { desired, lines } = load({
      'vm.yaml': vm('web-01', 'template: Debian Bookworm 12\nnameLabel: 1e3\nvcpus: 2\nmemory: 2GiB\ntags: [yes, 012]\notherConfig: {port: 0x10, debug: true}'),
    });
    expect(lines).toEqual([]);
    expect(desired.vms[0].spec.nameLabel).toBe('1e3');
    expect(desired.vms[0].spec.tags).toEqual(['yes', '012']);
    expect(desired.vms[0].spec.otherConfig).toEqual({ port: '0x10', debug: 'true' });
  });

  it('resolves references to manifests first, then to the live pool when an inventory is given', () => {
    const live = { has: (kind: string, name: string) => kind === 'SR' && name === 'pool-nfs' };
    const net = 'apiVersion: xops/v1\nkind: Network\nmetadata: {name: lan}\nspec: {}\n';
    const { desired, lines } = load(
      { 'net.yaml': net, 'vm.yaml': vm('web-01', 'template: T\nvcpus: 1\nmemory: 1GiB\ndisks: [{name: root, size: 1GiB, sr: pool-nfs}]\nnetworks: [{network: lan}]') },
      { live: { has: (kind: string, name: string) => live.has(kind, name) || (kind === 'Template' && name === 'T') } },
    );
    expect(lines).toEqual([]);
    const spec = desired.vms[0].spec;
    expect(spec.networks[0].network).toEqual({ name: 'lan', target: 'manifest', checked: true });
    expect(spec.disks[0].sr).toEqual({ name: 'pool-nfs', target: 'live', checked: true });
    expect(spec.template).toEqual({ name: 'T', target: 'live', checked: true });
  });

  it('fills in a member VM\'s appliance from the appliance\'s member list', () => {
    const app = 'apiVersion: xops/v1\nkind: VMAppliance\nmetadata: {name: shop}\nspec:\n  members:\n    - {vm: db-01, startDelay: 1m}\n';
    const { desired, lines } = load({ 'a.yaml': app, 'vm.yaml': vm('db-01', 'template: T\nvcpus: 1\nmemory: 1GiB') });
    expect(lines).toEqual([]);
    expect(desired.vms[0].spec.appliance).toEqual({ name: 'shop', target: 'manifest', checked: true });
    expect(desired.appliances[0].spec.members[0]).toMatchObject({ startOrder: 0, startDelay: 60, shutdownDelay: 0 });
  });

  it('leaves a document with errors out of the typed lists, but its name still resolves (no cascade)', () => {
    const badNet = 'apiVersion: xops/v1\nkind: Network\nmetadata: {name: lan}\nspec: {mtu: 20}\n';
    const { desired, lines } = load({ 'net.yaml': badNet, 'vm.yaml': vm('web-01', 'template: T\nvcpus: 1\nmemory: 1GiB\nnetworks: [{network: lan}]') });
    expect(lines).toEqual(['net.yaml:4:13: Network/lan: spec.mtu: 20 is below the minimum 576']);
    expect(desired.networks).toEqual([]);
    expect(desired.vms[0].spec.networks[0].network.target).toBe('manifest');
    // Admission still sees every document as written.
    expect(desired.documents.map((d) => d.address)).toEqual(['Network/lan', 'VM/web-01']);
  });

  it('reports every problem of every file in one run, in file and line order', () => {
    const { lines } = load({
      'b.yaml': vm('b', 'template: T\nvcpus: 0\nmemory: 1GiB'),
      'a.yaml': vm('a', 'template: T\nvcpus: 1\nmemory: lots'),
    });
    expect(lines.map((l) => l.split(':').slice(0, 2).join(':'))).toEqual(['a.yaml:8', 'b.yaml:7']);
  });

  it('refuses file paths that leave the folder (from a hostile Git tree)', () => {
    const { lines, desired } = load({ '../escape.yaml': vm('x', 'template: T\nvcpus: 1\nmemory: 1GiB'), '/etc/x.yaml': 'a: 1' });
    expect(lines).toEqual([
      '../escape.yaml:1:1: path leaves the manifests folder; refusing to read it',
      '/etc/x.yaml:1:1: path leaves the manifests folder; refusing to read it',
    ]);
    expect(desired.vms).toEqual([]);
  });

  it('ignores files that are not YAML and records the commit', () => {
    const { desired, lines } = load({ 'README.md': '# not yaml: [', 'x.yml': vm('x', 'template: T\nvcpus: 1\nmemory: 1GiB') }, { commit: 'abc123' });
    expect(lines).toEqual([]);
    expect(desired.source).toEqual({ commit: 'abc123', path: 'repo' });
    expect(desired.vms).toHaveLength(1);
  });

  it('gives admission rules each document with the location of every value', () => {
    const { desired } = load({ 'vm.yaml': vm('web-01', 'template: T\nvcpus: 1\nmemory: 1GiB\ndisks:\n  - {name: root, size: 1GiB}') });
    const doc = desired.documents[0];
    expect(doc.locations['spec.disks[0].size']).toEqual({ file: 'vm.yaml', line: 10, col: 26 });
    expect(doc.body).toMatchObject({ spec: { memory: '1GiB' } });
  });
});

describe('liveInventoryFrom', () => {
  it('knows SRs, networks and hosts by name or uuid, and tells templates from VMs', () => {
    const map = <T>(entries: [string, T][]) => new Map(entries);
    const state = {
      token: '1',
      observedAt: '',
      records: {
        SR: map([['r1', { uuid: 'u-sr', name_label: 'pool-nfs' }]]),
        network: map([['r2', { uuid: 'u-net', name_label: 'lan' }]]),
        host: map([['r3', { uuid: 'u-host', name_label: 'xcp-host1' }]]),
        VM: map([
          ['r4', { uuid: 'u-t', name_label: 'Debian', is_a_template: true, is_a_snapshot: false, is_control_domain: false }],
          ['r5', { uuid: 'u-vm', name_label: 'legacy', is_a_template: false, is_a_snapshot: false, is_control_domain: false }],
          ['r6', { uuid: 'u-dom0', name_label: 'Control domain', is_a_template: false, is_a_snapshot: false, is_control_domain: true }],
        ]),
      },
    } as unknown as ObservedState;
    const live = liveInventoryFrom(state);
    expect([live.has('SR', 'pool-nfs'), live.has('SR', 'u-sr'), live.has('Network', 'lan'), live.has('Host', 'u-host')]).toEqual([true, true, true, true]);
    expect([live.has('Template', 'Debian'), live.has('VM', 'Debian'), live.has('VM', 'legacy'), live.has('VM', 'Control domain')]).toEqual([true, false, true, false]);
  });
});
