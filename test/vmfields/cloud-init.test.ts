/**
 * cloudInit through the simulator: at create xops writes a NoCloud config drive (genisoimage, label
 * cidata), uploads it through /import_raw_vdi and attaches it; the simulated guest reads the drive's
 * network-config and reports its static address. Afterwards a change is only a warning (it takes
 * effect on a replace), removeAfterFirstBoot deletes the drive once the guest has reported, and an
 * interrupted create converges to one drive.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/manifests/index.js';
import type { VDIRecord } from '../../src/model/observed.js';
import { reportedAddresses } from '../../src/kinds/vm/readiness.js';
import { disposeVdiContent } from '../../src/sim/vdi-content/handlers.js';
import { VdiTransfer } from '../../src/xapi/vdi-transfer.js';
import type { XapiClient } from '../../src/xapi/client.js';
import { applyFolder, failures, planFolder, simWithClient } from '../apply/helpers.js';

const NET = 'Pool-wide network associated with eth0';
const USER_DATA = '#cloud-config\nhostname: web-01\nssh_authorized_keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm9 ops@example\n';
const NETWORK_V2 = '{version: 2, ethernets: {eth0: {addresses: [192.168.77.20/24], gateway4: 192.168.77.1}}}';

const vm = (cloudInit: string, template = 'Debian Bookworm 12') => `apiVersion: xops/v1
kind: VM
metadata: {name: web-01}
spec:
  template: ${template}
  vcpus: 1
  memory: 1GiB
  networks:
    - network: ${NET}
  powerState: running
  cloudInit:
${cloudInit.replace(/^/gm, '    ')}
`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(cloudInit: string, files: Record<string, string> = {}) {
  const e = await simWithClient();
  cleanup.push(e.stop);
  cleanup.push(async () => disposeVdiContent(e.sim.db));
  const dir = await mkdtemp(join(tmpdir(), 'xops-cloudinit-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  await writeFile(join(dir, 'vm.yaml'), vm(cloudInit));
  return { ...e, dir };
}

async function vmRef(client: XapiClient): Promise<string> {
  return (await client.call<string[]>('VM.get_by_name_label', 'web-01'))[0]!;
}

/** The VDIs xops made as config drives for VM/web-01. */
async function drives(client: XapiClient): Promise<[string, VDIRecord][]> {
  const all = await client.call<Record<string, VDIRecord>>('VDI.get_all_records');
  return Object.entries(all).filter(([, r]) => r.other_config['xops.cloudinit'] !== undefined && r.other_config['xops.managed'] === 'VM/web-01');
}

async function reported(client: XapiClient): Promise<string[]> {
  const gm = await client.call<string>('VM.get_guest_metrics', await vmRef(client));
  return reportedAddresses(await client.call<Record<string, string>>('VM_guest_metrics.get_networks', gm));
}

/** GET /export_raw_vdi of the VDI into a file, read back with isoinfo (genisoimage's reader, not ours). */
async function exportedFile(client: XapiClient, dir: string, vdi: string, name: string): Promise<string> {
  const transfer = new VdiTransfer(await client.transferEndpoint());
  const image = join(dir, 'exported.iso');
  try {
    const out = createWriteStream(image);
    await transfer.download(vdi, out);
    await finished(out);
  } finally {
    await transfer.close();
  }
  return execFileSync('isoinfo', ['-i', image, '-R', '-x', `/${name}`], { encoding: 'utf8' });
}

describe('cloudInit', () => {
  it('writes the drive at create: user-data from a repository file, the static address the guest reports, a clean re-plan', async () => {
    const { client, dir } = await setup(`userData: {file: cloud-init/web.user-data}\nnetworkConfig: ${NETWORK_V2}`, { 'cloud-init/web.user-data': USER_DATA });
    const { plan, result } = await applyFolder(client, dir);
    expect(failures(result)).toEqual([]);
    expect(plan.actions.map((a) => a.id)).toEqual(['create:VM/web-01']);
    expect(plan.actions[0]!.changes.find((c) => c.path === 'spec.cloudInit')?.to).toMatch(/^a config drive with user-data \(\d+ bytes\), network-config, meta-data$/);

    const found = await drives(client);
    expect(found).toHaveLength(1);
    const [vdi, rec] = found[0]!;
    expect(rec.name_label).toBe('cloud-init web-01');
    const vbd = await client.call<{ mode: string; type: string; VM: string }>('VBD.get_record', rec.VBDs[0]!);
    expect(vbd).toMatchObject({ mode: 'RO', type: 'Disk', VM: await vmRef(client) });

    expect(await exportedFile(client, dir, vdi, 'user-data')).toBe(USER_DATA);
    const meta = await exportedFile(client, dir, vdi, 'meta-data');
    // instance-id is the VM's uuid: a replaced VM is a new instance, for which cloud-init runs again.
    expect(meta).toContain(`instance-id: ${await client.call<string>('VM.get_uuid', await vmRef(client))}`);
    expect(meta).toContain('local-hostname: web-01');
    expect(await exportedFile(client, dir, vdi, 'network-config')).toContain('192.168.77.20/24');

    expect(await reported(client)).toEqual(['192.168.77.20']);
    const again = await planFolder(client, dir);
    expect(again.plan.actions).toEqual([]);
    expect(again.plan.diagnostics).toEqual([]);
  });

  it('gives a guest without network-config its DHCP address, and shows the reported IPs in the plan', async () => {
    const { client, sim, dir } = await setup(`userData: "${USER_DATA.replace(/\n/g, '\\n')}"`);
    const net = (await client.call<string[]>('network.get_by_name_label', NET))[0]!;
    sim.guests.setDhcpRange(net, '10.20.0.50', 10);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    expect(await reported(client)).toEqual(['10.20.0.50']);
    expect((await planFolder(client, dir)).plan.guests).toEqual({ 'VM/web-01': { addresses: ['10.20.0.50'] } });
  });

  it('plans no change after create: a new cloudInit is a warning that it takes effect only on a replace', async () => {
    const { client, dir } = await setup(`userData: "#cloud-config\\nhostname: web-01\\n"`);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    await writeFile(join(dir, 'vm.yaml'), vm(`userData: "#cloud-config\\nhostname: web-02\\n"`));
    const { plan } = await planFolder(client, dir);
    expect(plan.actions).toEqual([]);
    expect(plan.diagnostics).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'cloud-init-needs-replace', address: 'VM/web-01', path: 'spec.cloudInit', message: expect.stringContaining('takes effect only when the VM is replaced') }),
    ]);
    expect(plan.diagnostics[0]!.location).toMatchObject({ file: 'vm.yaml', line: 12 });
  });

  it('writes a new drive for the new config when the VM is replaced (a template change): a new instance-id, the warning gone', async () => {
    const { client, dir } = await setup(`userData: "#cloud-config\\nhostname: web-01\\n"`);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const oldUuid = await client.call<string>('VM.get_uuid', await vmRef(client));
    await writeFile(join(dir, 'vm.yaml'), vm(`userData: "#cloud-config\\nhostname: web-02\\n"`, 'Ubuntu Jammy Jellyfish 22.04'));
    const { plan, result } = await applyFolder(client, dir);
    expect(plan.actions.map((a) => a.operation)).toEqual(['replace']);
    expect(failures(result)).toEqual([]);
    const found = await drives(client);
    expect(found).toHaveLength(1);
    expect(await exportedFile(client, dir, found[0]![0], 'user-data')).toBe('#cloud-config\nhostname: web-02\n');
    const newUuid = await client.call<string>('VM.get_uuid', await vmRef(client));
    expect(newUuid).not.toBe(oldUuid);
    expect(await exportedFile(client, dir, found[0]![0], 'meta-data')).toContain(`instance-id: ${newUuid}`);
    const again = await planFolder(client, dir);
    expect([again.plan.actions, again.plan.diagnostics]).toEqual([[], []]);
  });

  it('removes the drive once the guest has reported (removeAfterFirstBoot); the guest keeps its address', async () => {
    const { client, dir } = await setup(`userData: "#cloud-config\\n"\nnetworkConfig: ${NETWORK_V2}\nremoveAfterFirstBoot: true`);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    expect(await drives(client)).toHaveLength(1);
    const { plan, result } = await applyFolder(client, dir);
    expect(plan.actions.map((a) => [a.id, a.disruption])).toEqual([['delete:VM/web-01:cloud-init', 'none']]);
    expect(failures(result)).toEqual([]);
    expect(await drives(client)).toEqual([]);
    const vm = await vmRef(client);
    await client.callAsync('VM.clean_reboot', vm);
    expect(await reported(client)).toEqual(['192.168.77.20']);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  // Where a create can stop (a crash, a lost connection) once the drive's VDI exists: its upload never
  // started (the VDI is marked pending), or the image is in but the VBD is missing.
  const interruptions = [
    { why: 'before the upload (the transfer task never made)', fault: { methods: 'task.create', connectionReset: { count: 1 } }, mark: 'pending' },
    { why: 'between the upload and the attach', fault: { methods: 'VBD.create', taskFailure: { count: 1 } }, mark: /^sha256:/ },
  ];
  it.each(interruptions)('converges after a create interrupted $why: one drive, attached, the guest configured', async ({ fault, mark }) => {
    const { client, sim, dir } = await setup(`userData: "#cloud-config\\n"\nnetworkConfig: ${NETWORK_V2}`);
    sim.faults.inject(fault);
    const first = await applyFolder(client, dir, { retries: 0 });
    expect(failures(first.result)).toHaveLength(1);
    const left = await drives(client);
    expect(left).toHaveLength(1);
    expect(left[0]![1].VBDs).toEqual([]);
    expect(left[0]![1].other_config['xops.cloudinit']).toEqual(typeof mark === 'string' ? mark : expect.stringMatching(mark));
    const { result } = await applyFolder(client, dir);
    expect(failures(result)).toEqual([]);
    const after = await drives(client);
    expect(after.map(([ref]) => ref)).toEqual([left[0]![0]]);
    expect(after[0]![1].VBDs).toHaveLength(1);
    expect(after[0]![1].other_config['xops.cloudinit']).toMatch(/^sha256:/);
    expect(await reported(client)).toEqual(['192.168.77.20']);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  it('leaves no drive behind when the create is undone after the drive was made but before it was attached', async () => {
    const { client, dir, sim } = await setup(`userData: {file: cloud-init/web.user-data}`, { 'cloud-init/web.user-data': USER_DATA });
    // The drive's VBD.create fails for good (VM_REQUIRES_NETWORK is one xops does not retry): the create is undone.
    sim.faults.inject({ methods: 'VBD.create', taskFailure: { count: 1, code: 'VM_REQUIRES_NETWORK', params: ['OpaqueRef:x', 'OpaqueRef:y'] } });
    const { result } = await applyFolder(client, dir);
    expect(failures(result).join('\n')).toMatch(/create failed and was undone/);
    expect(await client.call<string[]>('VM.get_by_name_label', 'web-01')).toEqual([]);
    expect(await drives(client)).toEqual([]);
  });

  it('takes over a drive an apply killed mid-update left without its key, leaving no second drive', async () => {
    const { client, dir } = await setup(`userData: {file: cloud-init/web.user-data}`, { 'cloud-init/web.user-data': USER_DATA });
    // What a kill between the key's remove and add leaves (kill point 36 of a cloud-init create): the
    // drive made, marked, uploaded, detached, and no xops.cloudinit key.
    const [pool] = await client.call<string[]>('pool.get_all');
    const srRef = await client.call<string>('pool.get_default_SR', pool);
    await client.call('VDI.create', { name_label: 'cloud-init web-01', name_description: '', SR: srRef, virtual_size: '1048576', type: 'user', sharable: false, read_only: false, other_config: { 'xops.managed': 'VM/web-01', 'xops.repo': 'test-repo' }, sm_config: {}, xenstore_data: {}, tags: [] });
    const { result } = await applyFolder(client, dir);
    expect(failures(result)).toEqual([]);
    const all = await client.call<Record<string, VDIRecord>>('VDI.get_all_records');
    const marked = Object.values(all).filter((r) => r.other_config['xops.managed'] === 'VM/web-01' && r.other_config['xops.disk'] === undefined);
    expect(marked.map((r) => [r.name_label, r.VBDs.length > 0, r.other_config['xops.cloudinit'] !== undefined])).toEqual([['cloud-init web-01', true, true]]);
  });

  it('refuses a file: path that leaves the repository, at its file, line and field', async () => {
    const { dir } = await setup('userData: {file: ../../etc/passwd}');
    const { diagnostics } = await loadManifests(dir);
    expect(diagnostics).toEqual([
      expect.objectContaining({ severity: 'error', code: 'path-escape', path: 'spec.cloudInit.userData.file', location: expect.objectContaining({ file: 'vm.yaml', line: 12 }) }),
    ]);
  });

  it('refuses a file: named like a manifest (*.yaml), which the loader would also read as one', async () => {
    const { dir } = await setup('userData: {file: cloud-init/web.yaml}', { 'cloud-init/web.yaml': USER_DATA });
    const { diagnostics } = await loadManifests(dir);
    expect(diagnostics.map((d) => `${d.location?.file}:${d.location?.line} ${d.code} ${d.path}`)).toEqual([
      'cloud-init/web.yaml:2 schema kind',
      'vm.yaml:12 cloud-init-file spec.cloudInit.userData.file',
    ]);
    expect(diagnostics[1]!.message).toContain('would be read as a manifest');
  });

  it('refuses a file: path that is a symlink leading out of the repository, when planning', async () => {
    const { client, dir } = await setup('userData: {file: web.user-data}');
    const outside = await mkdtemp(join(tmpdir(), 'xops-outside-'));
    cleanup.push(() => rm(outside, { recursive: true, force: true }));
    await writeFile(join(outside, 'secret'), '#cloud-config\n');
    await symlink(join(outside, 'secret'), join(dir, 'web.user-data'));
    const { plan } = await planFolder(client, dir);
    expect(plan.actions).toEqual([]);
    expect(plan.diagnostics).toEqual([
      expect.objectContaining({ severity: 'error', code: 'cloud-init-file', path: 'spec.cloudInit.userData.file', message: expect.stringContaining('is not a file of the manifests folder') }),
    ]);
  });
});
