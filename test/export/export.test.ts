/**
 * The pure export: which pool objects become manifests, under which names, with which references,
 * and which notes tell the operator what was left out or must be filled in.
 */
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { exportManifests, formatNote, sanitiseName, type ExportOptions } from '../../src/export/index.js';
import { NameAllocator } from '../../src/export/names.js';
import { liveInventoryFrom, loadManifestFiles } from '../../src/manifests/index.js';
import { MANAGED_KEY, REPO_KEY, type ObservedState, type VMRecord } from '../../src/model/observed.js';
import { GiB, MiB, Pool } from './fixture.js';

type Doc = { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
/** A VM and the pool's templates (name_label, reference_label) for the template rules. */
type TemplateCase = { why: string; vm: Partial<VMRecord>; templates: { name: string; label?: string }[] };

function run(state: ObservedState, options: ExportOptions = {}) {
  const result = exportManifests(state, options);
  const docs = new Map(result.files.map((f) => [f.address, load(f.content) as Doc]));
  const text = new Map(result.files.map((f) => [f.address, f.content]));
  return { ...result, docs, text, codes: (address?: string) => result.notes.filter((n) => !address || n.address === address).map((n) => n.code) };
}

/** A pool with one host, a NIC network, a shared NFS SR and a Debian template. */
function small() {
  const p = new Pool();
  const host = p.host('xcp-host1');
  const eth0 = p.network('Pool-wide network associated with eth0');
  p.pif(eth0, host, { device: 'eth0', physical: true, management: true });
  const nfs = p.sr('pool-nfs', 'nfs', [host, p.host('xcp-host2')], { shared: true }, { server: '10.0.0.5', serverpath: '/x' });
  const pool = p.add('pool', { name_label: 'lab', name_description: '', master: host, default_SR: nfs, tags: [], other_config: {}, ha_enabled: false, ha_host_failures_to_tolerate: 0 });
  p.template('Debian Bookworm 12');
  return { p, host, eth0, nfs, pool };
}

describe('names', () => {
  it.each([
    { label: 'web-01', name: 'web-01', why: 'a valid name is kept exactly' },
    { label: 'DB01', name: 'DB01', why: 'letter case of a valid name is kept' },
    { label: 'Local storage on xcp-host1', name: 'local-storage-on-xcp-host1', why: 'spaces become dashes, lower-cased' },
    { label: 'Café Ünïcode', name: 'cafe-unicode', why: 'accents are folded to ASCII' },
    { label: '  --web -- ', name: 'web', why: 'a name starts and ends with a letter or digit' },
    { label: 'x'.repeat(70) + ' y', name: 'x'.repeat(63), why: 'at most 63 characters' },
    { label: '日本', name: '', why: 'nothing usable left: the caller falls back' },
  ])('$label → $name ($why)', ({ label, name }) => {
    expect(sanitiseName(label)).toBe(name);
  });

  it('de-duplicates case-insensitively, so files never collide on macOS or Windows', () => {
    const names = new NameAllocator();
    expect(['web', 'Web', 'web', 'x'.repeat(63), 'x'.repeat(63)].map((n) => names.allocate(n)))
      .toEqual(['web', 'Web-2', 'web-3', 'x'.repeat(63), `${'x'.repeat(61)}-2`]);
  });

  it('two VMs with one name get distinct manifests and a warning each: adoption could not tell them apart', () => {
    const { p } = small();
    p.vm('web');
    p.vm('web');
    const r = run(p.state);
    expect(r.docs.get('VM/web')?.spec.nameLabel).toBeUndefined();
    expect(r.docs.get('VM/web-2')?.spec.nameLabel).toBe('web');
    expect(r.codes('VM/web')).toContain('duplicate-name');
    expect(r.codes('VM/web-2')).toEqual(expect.arrayContaining(['renamed', 'duplicate-name']));
  });

  it('a name with nothing usable falls back to the kind and uuid, and the note gives the mapping', () => {
    const { p } = small();
    const vm = p.vm('日本');
    const r = run(p.state);
    const name = `vm-${p.get('VM', vm).uuid.slice(0, 8)}`;
    expect(r.docs.get(`VM/${name}`)?.spec.nameLabel).toBe('日本');
    expect(r.notes.find((n) => n.address === `VM/${name}` && n.code === 'renamed')?.message).toContain("'日本' is not a valid manifest name");
  });
});

describe('what is left out', () => {
  it("skips XAPI's own objects and objects xops already manages, with a note or a count each", () => {
    const { p, host } = small();
    p.vm('Control domain on host: xcp-host1', { is_control_domain: true });
    p.vm('web-01 snapshot', { is_a_snapshot: true });
    p.vm('web-01', { other_config: { [MANAGED_KEY]: 'VM/web-01', [REPO_KEY]: 'prod' } });
    p.vm('legacy');
    p.network('Host internal management network', { other_config: { is_host_internal_management_network: 'true' } });
    p.network('lan', { other_config: { [MANAGED_KEY]: 'Network/lan' } });
    p.sr('XCP-ng Tools', 'iso', [host], { is_tools_sr: true }, { location: '/opt' });
    p.sr('DVD drives', 'udev', [host]);
    p.sr('detached', 'nfs', []);
    p.add('VM_appliance', { name_label: 'empty', name_description: '', VMs: [], allowed_operations: [] });
    const r = run(p.state);
    expect(r.files.map((f) => f.address).sort()).toEqual(['Host/xcp-host1', 'Host/xcp-host2', 'Pool/lab', 'SR/pool-nfs', 'VM/legacy']);
    expect(r.skipped).toEqual({ 'control domain': 1, snapshot: 1, template: 1, 'XAPI-internal network': 1, 'tools SR': 1 });
    expect(r.notes.map((n) => n.code).sort()).toEqual(
      ['detached-sr', 'empty-appliance', 'hardware-network', 'managed', 'managed', 'template-unknown', 'unsupported-sr'],
    );
    expect(r.notes.filter((n) => n.code === 'managed').map((n) => n.message).join('\n')).toContain('VM/web-01 (repository prod)');
  });

  it('an appliance xops manages (its mark lives in the pool other_config) is not exported again', () => {
    const { p, pool } = small();
    const vm = p.vm('db');
    const app = p.add('VM_appliance', { name_label: 'shop', name_description: '', VMs: [vm], allowed_operations: [] });
    p.set('pool', pool, { other_config: { [`${MANAGED_KEY}/VM_appliance/${p.get('VM_appliance', app).uuid}`]: 'VMAppliance/shop' } });
    const r = run(p.state, { otherConfig: true });
    expect(r.docs.has('VMAppliance/shop')).toBe(false);
    expect(r.notes.some((n) => n.code === 'managed' && n.message.includes('VMAppliance/shop'))).toBe(true);
    // xops' keys are never declared, even when other_config is exported.
    expect(r.docs.get('Pool/lab')?.spec.otherConfig).toBeUndefined();
  });

  it('--kinds writes only those kinds; references to the others name the live objects', () => {
    const { p, host } = small();
    const vlan = p.network('VLAN 100');
    p.pif(vlan, host, { device: 'eth1', VLAN: 100 });
    const vm = p.vm('web', { other_config: { base_template_name: 'Debian Bookworm 12' } });
    p.vif(vm, vlan, '0');
    const r = run(p.state, { kinds: ['VM'] });
    expect(r.files.map((f) => f.address)).toEqual(['VM/web']);
    expect(r.docs.get('VM/web')?.spec.networks).toEqual([{ network: 'VLAN 100' }]);
  });
});

describe('networks, SRs, pool, appliances', () => {
  it('a VLAN, a bond and a private network are declared as such; NIC networks stay references', () => {
    const { p, host, eth0 } = small();
    const vlan = p.network('VLAN 100', { MTU: 1500, tags: ['b', 'a'] });
    p.pif(vlan, host, { device: 'eth1', VLAN: 100 });
    const bond = p.network('storage', { MTU: 9000, name_description: 'NFS traffic' });
    const slaves = ['eth3', 'eth2'].map((device) => p.pif(p.network(`nic ${device}`), host, { device, physical: true }));
    const master = p.pif(bond, host, { device: 'bond0' });
    const bondRec = p.add('Bond', { master, slaves, mode: 'active-backup', other_config: {} });
    p.set('PIF', master, { bond_master_of: [bondRec] });
    p.network('private');
    const vm = p.vm('web', { other_config: { base_template_name: 'Debian Bookworm 12' } });
    p.vif(vm, eth0, '0');
    p.vif(vm, vlan, '1');
    const r = run(p.state);
    expect(r.docs.get('Network/vlan-100')?.spec).toEqual({ nameLabel: 'VLAN 100', vlan: { tag: 100, device: 'eth1' }, tags: ['a', 'b'] });
    expect(r.docs.get('Network/storage')?.spec).toEqual({ description: 'NFS traffic', mtu: 9000, bond: { devices: ['eth2', 'eth3'], mode: 'active-backup' } });
    expect(r.docs.get('Network/private')?.spec).toEqual({});
    expect(r.docs.get('VM/web')?.spec.networks).toEqual([{ network: 'Pool-wide network associated with eth0' }, { network: 'vlan-100' }]);
  });

  it('a live reference that reads like an exported manifest name, or is ambiguous, is written as a uuid', () => {
    const { p, host } = small();
    p.network('lan 1');                                   // exported as Network/lan-1
    const nic = p.network('lan-1');                       // a NIC network whose label is that manifest name
    p.pif(nic, host, { device: 'eth1', physical: true });
    const twin = p.host('xcp-host1');                     // a second host with the first one's name
    const vm = p.vm('web', { affinity: twin, other_config: { base_template_name: 'Debian Bookworm 12' } });
    p.vif(vm, nic, '0');
    // Hosts left out, the twin can only be named by its uuid.
    const spec = run(p.state, { kinds: ['Pool', 'Network', 'SR', 'VM'] }).docs.get('VM/web')!.spec;
    expect(spec.networks).toEqual([{ network: p.get('network', nic).uuid }]);
    expect(spec.host).toBe(p.get('host', twin).uuid);
    // Hosts exported, the VM names the twin's Host manifest, which finds its host by uuid.
    const all = run(p.state);
    expect(all.docs.get('VM/web')!.spec.host).toBe('xcp-host1-2');
    expect(all.docs.get('Host/xcp-host1-2')!.spec).toEqual({ name: p.get('host', twin).uuid });
  });

  it('SRs: credentials become secretRefs, non-default sharing and content type are written, XAPI keys dropped', () => {
    const { p, host } = small();
    p.sr('archive', 'smb', [host, p.host('h2')], { shared: true }, { server: '//fs/a', username: 'svc', password: 'hunter2', SRmaster: 'true' });
    p.sr('one-host nfs', 'nfs', [host], { shared: false }, { server: 's', serverpath: '/p' });
    p.sr('Local storage', 'ext', [host], { content_type: 'disk' }, { device: '/dev/sdb' });
    const r = run(p.state);
    expect(r.docs.get('SR/archive')?.spec).toEqual({
      type: 'smb', deviceConfig: { password: { secretRef: { env: 'XOPS_SECRET_ARCHIVE_PASSWORD' } }, server: '//fs/a', username: 'svc' },
    });
    expect(r.text.get('SR/archive')).not.toContain('hunter2');
    expect(r.notes.find((n) => n.code === 'secret')).toMatchObject({ severity: 'warning', path: 'spec.deviceConfig.password', file: 'storage/archive.yaml' });
    expect(r.docs.get('SR/one-host-nfs')?.spec).toMatchObject({ shared: false, host: 'xcp-host1' });
    // An SR whose PBDs name a XAPI secret (how xops itself creates SMB SRs) declares the credential the secret holds.
    p.sr('vault', 'smb', [host], { shared: true }, { server: '//fs/v', username: 'svc', password_secret: '5b2c0a4e-0000-4000-8000-000000000001' });
    const again = run(p.state);
    expect((again.docs.get('SR/vault')?.spec as { deviceConfig: unknown }).deviceConfig).toEqual({ password: { secretRef: { env: 'XOPS_SECRET_VAULT_PASSWORD' } }, server: '//fs/v', username: 'svc' });
    expect(again.text.get('SR/vault')).not.toContain('5b2c0a4e');
    // A host's installer-made local storage is the host's, never xops': not exported (see kinds/sr/protection.ts).
    expect(r.docs.get('SR/local-storage')).toBeUndefined();
    expect(r.skipped['host-local SR']).toBe(1);
  });

  it('hosts: their settings as Host manifests (name only when it differs), other_config only on request, never maintenance', () => {
    const { p, host } = small();
    p.set('host', host, { name_description: 'rack 4', tags: ['gpu', 'eu'], enabled: false, other_config: { agent_start_time: '1.', iscsi_iqn: 'iqn.x', rack: 'r4' } });
    p.host('Host Two');
    const r = run(p.state);
    expect(r.docs.get('Host/xcp-host1')?.spec).toEqual({ description: 'rack 4', tags: ['eu', 'gpu'] });
    expect(r.docs.get('Host/host-two')?.spec).toEqual({ name: 'Host Two' });
    expect(run(p.state, { otherConfig: true }).docs.get('Host/xcp-host1')?.spec.otherConfig).toEqual({ rack: 'r4' });
    p.set('host', host, { other_config: { [MANAGED_KEY]: 'Host/h1' } });
    expect(run(p.state).docs.has('Host/xcp-host1')).toBe(false);
  });

  it('the pool: default SR by manifest name, HA only when on, other_config only on request and without system keys', () => {
    const { p, pool } = small();
    p.set('pool', pool, { ha_enabled: true, ha_host_failures_to_tolerate: 1, tags: ['prod'], other_config: { owner: 'ops', 'memory-ratio-hvm': '0.25' } });
    expect(run(p.state).docs.get('Pool/lab')?.spec).toEqual({ defaultSR: 'pool-nfs', tags: ['prod'], ha: { enabled: true, hostFailuresToTolerate: 1 } });
    expect(run(p.state, { otherConfig: true }).docs.get('Pool/lab')?.spec.otherConfig).toEqual({ owner: 'ops' });
  });

  it('an appliance lists its members in start order with their delays', () => {
    const { p } = small();
    const web = p.vm('web', { order: 2 });
    const db = p.vm('db', { order: 0, start_delay: 60, shutdown_delay: 30 });
    p.add('VM_appliance', { name_label: 'shop', name_description: 'the shop', VMs: [web, db], allowed_operations: [] });
    expect(run(p.state).docs.get('VMAppliance/shop')?.spec).toEqual({
      description: 'the shop',
      members: [{ vm: 'db', startOrder: 0, startDelay: '60s', shutdownDelay: '30s' }, { vm: 'web', startOrder: 2 }],
    });
  });
});

describe('VMs', () => {
  it('takes every field from the record; max values only when they differ', () => {
    const { p, host, nfs, eth0 } = small();
    const vm = p.vm('app', {
      name_description: 'shop app', power_state: 'Running', affinity: host, VCPUs_at_startup: 4, VCPUs_max: 8,
      memory_dynamic_min: 8 * GiB, memory_dynamic_max: 8 * GiB, memory_static_max: 12 * GiB, ha_restart_priority: 'restart',
      tags: ['web', 'app'], other_config: { base_template_name: 'Debian Bookworm 12', auto_poweron: 'true', mac_seed: 'x', 'backup-schedule': 'nightly' },
    });
    p.disk(vm, nfs, 'app-root', 40 * GiB);
    p.disk(vm, nfs, 'app-data', 200 * GiB + 512 * MiB);
    p.vif(vm, eth0, '0', '52:54:00:AA:BB:CC');
    const r = run(p.state, { otherConfig: true });
    expect(r.docs.get('VM/app')?.spec).toEqual({
      description: 'shop app', template: 'Debian Bookworm 12', vcpus: 4, vcpusMax: 8, memory: '8GiB', memoryMax: '12GiB',
      disks: [{ name: 'root', size: '40GiB', sr: 'pool-nfs' }, { name: 'data', size: '205312MiB', sr: 'pool-nfs' }],
      networks: [{ network: 'Pool-wide network associated with eth0', mac: '52:54:00:aa:bb:cc' }],
      powerState: 'running', host: 'xcp-host1', haRestartPriority: 'restart', autoPowerOn: true, tags: ['app', 'web'],
      otherConfig: { 'backup-schedule': 'nightly' },
    });
    expect(r.codes('VM/app')).toEqual([]);
  });

  // XAPI records a VM's template twice on VM.clone (xen-api ocaml/xapi/xapi_vm_clone.ml): other_config
  // base_template_name (the template's name_label, unless already there) and reference_label (copied from the
  // template; datamodel: "an immutable reference to the template since [its] uuid and name_label may change").
  it.each<TemplateCase & { want: string }>([
    { why: 'the recorded name is one template', vm: { other_config: { base_template_name: 'Custom' } }, templates: [{ name: 'Custom' }], want: 'Custom' },
    { why: 'the template was renamed: its reference_label finds it', vm: { other_config: { base_template_name: 'Debian 11' }, reference_label: 'debian-11' }, templates: [{ name: 'Debian 11 (updated)', label: 'debian-11' }], want: 'Debian 11 (updated)' },
    { why: 'no name recorded, one template has the reference_label', vm: { reference_label: 'debian-11' }, templates: [{ name: 'Debian Bullseye 11', label: 'debian-11' }, { name: 'Other', label: 'other' }], want: 'Debian Bullseye 11' },
    { why: 'two templates have the name, one the reference_label: the uuid, as the name is shared', vm: { other_config: { base_template_name: 'Custom' }, reference_label: 'custom-b' }, templates: [{ name: 'Custom', label: 'custom-a' }, { name: 'Custom', label: 'custom-b' }], want: 'uuid:1' },
  ])('spec.template when $why', ({ vm, templates, want }) => {
    const { p } = small();
    const refs = templates.map((t) => p.template(t.name, t.label ? { reference_label: t.label } : {}));
    p.vm('web', vm);
    const r = run(p.state);
    const expected = want.startsWith('uuid:') ? p.get('VM', refs[Number(want.slice(5))]!).uuid : want;
    expect(r.docs.get('VM/web')?.spec.template).toBe(expected);
    expect(r.codes('VM/web')).toEqual([]);
  });

  it.each<TemplateCase & { expected: string }>([
    { why: 'XAPI recorded no template (mac_seed and install-methods are not one)', vm: { other_config: { mac_seed: 'x', 'install-methods': 'cdrom' } }, templates: [], expected: 'XAPI recorded no template' },
    { why: 'the template was deleted since', vm: { other_config: { base_template_name: 'CentOS 7' } }, templates: [], expected: "installed from 'CentOS 7', which is no longer a template" },
    { why: 'two templates have its name', vm: { other_config: { base_template_name: 'Custom' } }, templates: [{ name: 'Custom' }, { name: 'Custom' }], expected: '2 templates could be it' },
    { why: 'two templates share its reference_label', vm: { reference_label: 'debian-11' }, templates: [{ name: 'A', label: 'debian-11' }, { name: 'B', label: 'debian-11' }], expected: "2 templates share the VM's reference_label 'debian-11'" },
    { why: 'a template of the same name as the VM is no evidence', vm: {}, templates: [{ name: 'web' }], expected: 'XAPI recorded no template' },
  ])('no template line when $why: a note and a closing comment say it is needed only to create the VM again, and the manifest loads', ({ vm, templates, expected }) => {
    const { p } = small();
    templates.forEach((t) => p.template(t.name, t.label ? { reference_label: t.label } : {}));
    p.vm('web', vm);
    const r = run(p.state);
    expect(r.docs.get('VM/web')?.spec).not.toHaveProperty('template');
    expect(r.text.get('VM/web')).not.toMatch(/^ +template:/m);
    expect(r.text.get('VM/web')).toMatch(/\n# No template: [^\n]*\. A template is needed only to create this VM again/);
    const note = r.notes.find((n) => n.code === 'template-unknown');
    expect(note).toMatchObject({ severity: 'info', path: 'spec.template', file: 'vms/web.yaml' });
    expect(note?.message).toContain(expected);
    const files = r.files.map((f) => ({ path: f.path, content: Buffer.from(f.content) }));
    const loaded = loadManifestFiles(files, '/out', { live: liveInventoryFrom(p.state) });
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(loaded.desired.vms.find((v) => v.meta.name === 'web')?.spec.template).toBeUndefined();
  });

  it("lists every disk the planner will recognise: by its mark, its '<vm>-<disk>' name, or its position (userdevice); never a CD", () => {
    const { p, nfs } = small();
    const vm = p.vm('legacy web', { other_config: { base_template_name: 'Debian Bookworm 12' } });
    p.disk(vm, nfs, 'legacy web root', 20 * GiB);
    p.disk(vm, nfs, 'legacy-web-data', 5 * GiB);
    const marked = p.disk(vm, nfs, 'whatever', GiB);
    p.set('VDI', marked, { other_config: { 'xops.disk': 'scratch' } });
    p.disk(vm, nfs, 'cd', 0, { type: 'CD', empty: true });
    const r = run(p.state);
    // 'root' is disk 0 by its userdevice 0: listed first, under a name taken from its label.
    expect(r.docs.get('VM/legacy-web')?.spec.disks).toEqual([
      { name: 'root', size: '20GiB', sr: 'pool-nfs' }, { name: 'data', size: '5GiB', sr: 'pool-nfs' }, { name: 'scratch', size: '1GiB', sr: 'pool-nfs' },
    ]);
    expect(r.text.get('VM/legacy-web')).not.toContain('vdi-param-set');
    expect(r.notes.filter((n) => n.code === 'disk-unlisted')).toEqual([]);
  });

  it('a disk recognised only by position is left out when a gap in the userdevices puts it elsewhere in the list, with the rename in a note', () => {
    const { p, nfs } = small();
    const vm = p.vm('legacy web', { other_config: { base_template_name: 'Debian Bookworm 12' } });
    p.disk(vm, nfs, 'legacy web root', 20 * GiB);
    const logs = p.disk(vm, nfs, 'legacy web logs', 2 * GiB, { userdevice: '2' });
    const r = run(p.state);
    expect(r.docs.get('VM/legacy-web')?.spec.disks).toEqual([{ name: 'root', size: '20GiB', sr: 'pool-nfs' }]);
    const notes = r.notes.filter((n) => n.code === 'disk-unlisted');
    expect(notes.map((n) => n.message)).toEqual([expect.stringContaining(`xe vdi-param-set uuid=${p.get('VDI', logs).uuid} name-label=legacy-web-logs`)]);
  });

  it('VIFs are listed in device order up to the first gap; a VIF past a gap is reported, not mis-matched', () => {
    const { p, eth0 } = small();
    const vm = p.vm('web', { other_config: { base_template_name: 'Debian Bookworm 12' } });
    p.vif(vm, eth0, '2');
    p.vif(vm, eth0, '0');
    const r = run(p.state);
    expect(r.docs.get('VM/web')?.spec.networks).toEqual([{ network: 'Pool-wide network associated with eth0' }]);
    expect(r.codes('VM/web')).toEqual(['vif-unlisted']);
  });

  it('a ballooning VM gets a warning: xops pins dynamic min to max', () => {
    const { p } = small();
    p.vm('web', { memory_dynamic_min: GiB, memory_dynamic_max: 2 * GiB, other_config: { base_template_name: 'Debian Bookworm 12' } });
    const r = run(p.state);
    expect(r.docs.get('VM/web')?.spec.memory).toBe('2GiB');
    expect(formatNote(r.notes.find((n) => n.code === 'dynamic-memory')!)).toMatch(/^vms\/web\.yaml: VM\/web: spec\.memory: warning: the VM balloons between 1GiB and 2GiB/);
  });
});

describe('files', () => {
  it('one resource per file in the examples layout, modelines relative to each file, the same bytes for the same pool', () => {
    const { p } = small();
    const vm = p.vm('web', { other_config: { base_template_name: 'Debian Bookworm 12' } });
    p.add('VM_appliance', { name_label: 'shop', name_description: '', VMs: [vm], allowed_operations: [] });
    const r = run(p.state);
    expect(r.files.map((f) => f.path)).toEqual(['pool.yaml', 'hosts/xcp-host1.yaml', 'hosts/xcp-host2.yaml', 'storage/pool-nfs.yaml', 'vms/web.yaml', 'appliances/shop.yaml']);
    expect(r.text.get('Pool/lab')!.split('\n')[0]).toBe('# yaml-language-server: $schema=schemas/pool.schema.json');
    expect(r.text.get('VM/web')!.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/vm.schema.json');
    expect(exportManifests(p.state, { schemaDir: '../../schemas' }).files[4]!.content.split('\n')[0]).toBe('# yaml-language-server: $schema=../../../schemas/vm.schema.json');
    // Map order is XAPI's reply order; the output must not depend on it.
    const reversed = { ...p.state, records: { ...p.state.records, VM: new Map([...p.state.records.VM].reverse()) } };
    expect(exportManifests(reversed)).toEqual(exportManifests(p.state));
  });
});
