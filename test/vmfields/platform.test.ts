/**
 * The VM's platform, boot and scheduling fields through the simulator: create, update with the
 * disruption docs/plan-rules.md gives, an idempotent re-run, and export writing them back.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exportManifests } from '../../src/export/index.js';
import { liveInventoryFrom, loadManifests } from '../../src/manifests/index.js';
import { takeSnapshot } from '../../src/observe/index.js';
import { planChanges } from '../../src/plan/index.js';
import type { XapiClient } from '../../src/xapi/client.js';
import { REPO, applyFolder, failures, planFolder, simWithClient } from '../apply/helpers.js';

const SR = `apiVersion: xops/v1
kind: SR
metadata: {name: store}
spec:
  type: nfs
  shared: true
  deviceConfig: {server: 10.0.0.1, serverpath: /x}
`;

const vm = (extra: string, power = 'running') => `apiVersion: xops/v1
kind: VM
metadata: {name: tuned}
spec:
  template: Debian Bookworm 12
  vcpus: 2
  vcpusMax: 4
  memory: 1GiB
  powerState: ${power}
${extra}`;

const ALL = `  coresPerSocket: 2
  nestedVirtualization: true
  videoRam: 16
  boot: {order: [network, disk], firmware: uefi, secureBoot: true}
  cpuCap: 50
  cpuWeight: 512
  blockedOperations: [destroy]
  startDelay: 30s
  shutdownDelay: 1m
  xenstoreData: {vm-data/role: web}
  suspendSR: store
  vtpm: true
`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xops-vmfields-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function env() {
  const e = await simWithClient();
  cleanup.push(e.stop);
  return e;
}

type Rec = Record<string, unknown> & { platform: Record<string, string>; HVM_boot_params: Record<string, string>; VCPUs_params: Record<string, string> };

async function record(client: XapiClient, name: string): Promise<[string, Rec]> {
  const refs = await client.call<string[]>('VM.get_by_name_label', name);
  expect(refs).toHaveLength(1);
  return [refs[0]!, await client.call<Rec>('VM.get_record', refs[0])];
}

describe('VM platform, boot and scheduling fields', () => {
  it('creates a VM with every field set on its XAPI record, and a re-run plans nothing', async () => {
    const { client } = await env();
    const dir = await folder({ 'sr.yaml': SR, 'vm.yaml': vm(ALL) });
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const [, rec] = await record(client, 'tuned');
    expect(rec.power_state).toBe('Running');
    expect(rec.platform).toMatchObject({ 'cores-per-socket': '2', 'nested-virt': 'true', videoram: '16', secureboot: 'true' });
    expect(rec.HVM_boot_params).toMatchObject({ order: 'nc', firmware: 'uefi' });
    expect(rec.VCPUs_params).toMatchObject({ cap: '50', weight: '512' });
    expect(Object.keys(rec.blocked_operations as object)).toEqual(['destroy']);
    expect(rec.start_delay).toBe(30);
    expect(rec.shutdown_delay).toBe(60);
    expect(rec.xenstore_data).toMatchObject({ 'vm-data/role': 'web' });
    const store = await client.call<string[]>('SR.get_by_name_label', 'store');
    expect(rec.suspend_SR).toBe(store[0]);
    expect(rec.VTPMs as string[]).toHaveLength(1);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  it('labels boot-time settings reboot and live ones none on a running VM, and applies both', async () => {
    const { client, sim } = await env();
    const dir = await folder({ 'sr.yaml': SR, 'vm.yaml': vm(ALL) });
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const [ref] = await record(client, 'tuned');
    const shutdowns = () => sim.stats.get('Async.VM.clean_shutdown') + sim.stats.get('VM.clean_shutdown');
    const before = shutdowns();

    // Live: cap and weight reach the running domain (VM.add_to_VCPUs_params_live); delays are metadata.
    await writeFile(join(dir, 'vm.yaml'), vm(ALL.replace('cpuCap: 50', 'cpuCap: 80').replace('startDelay: 30s', 'startDelay: 45s')));
    const live = await planFolder(client, dir);
    expect(live.plan.actions.map((a) => `${a.operation} ${a.disruption}`)).toEqual(['update none']);
    expect(live.plan.actions[0]!.changes.map((c) => `${c.path} ${c.disruption}`).sort()).toEqual(['spec.cpuCap none', 'spec.startDelay none']);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const [, afterLive] = await record(client, 'tuned');
    expect(afterLive.VCPUs_params.cap).toBe('80');
    expect(afterLive.power_state).toBe('Running');
    expect(shutdowns()).toBe(before); // not restarted

    // Boot-time: cores per socket is read when the domain is built, so the VM is halted and started again.
    await writeFile(join(dir, 'vm.yaml'), vm(ALL.replace('cpuCap: 50', 'cpuCap: 80').replace('startDelay: 30s', 'startDelay: 45s').replace('coresPerSocket: 2', 'coresPerSocket: 4')));
    const boot = await planFolder(client, dir);
    expect(boot.plan.actions.map((a) => `${a.operation} ${a.disruption}`)).toEqual(['update reboot']);
    expect(boot.plan.actions[0]!.details).toMatchObject({ restart: true });
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const [, afterBoot] = await record(client, 'tuned');
    expect(afterBoot.platform['cores-per-socket']).toBe('4');
    expect(afterBoot.power_state).toBe('Running');
    expect(shutdowns()).toBe(before + 1); // halted once, then started again
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);

    // The same boot-time change on a halted VM costs nothing.
    await client.call('VM.hard_shutdown', ref);
    await writeFile(join(dir, 'vm.yaml'), vm(ALL.replace('videoRam: 16', 'videoRam: 8'), 'halted'));
    const halted = await planFolder(client, dir);
    expect(halted.plan.actions.map((a) => `${a.operation} ${a.disruption}`)).toEqual(['update none']);
  });

  it('keeps a VM with blockedOperations [destroy] from being destroyed (XAPI OPERATION_BLOCKED) until the manifest unblocks it', async () => {
    const { client } = await env();
    const dir = await folder({ 'sr.yaml': SR, 'vm.yaml': vm(ALL, 'halted') });
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const [ref] = await record(client, 'tuned');
    await expect(client.call('VM.destroy', ref)).rejects.toThrow(/OPERATION_BLOCKED/);
    await writeFile(join(dir, 'vm.yaml'), vm(ALL.replace('blockedOperations: [destroy]', 'blockedOperations: []'), 'halted'));
    const { plan, result } = await applyFolder(client, dir);
    expect(plan.actions[0]!.changes.map((c) => `${c.path} ${c.disruption}`)).toEqual(['spec.blockedOperations none']);
    expect(failures(result)).toEqual([]);
    await client.call('VM.destroy', ref);
  });

  it('exports the fields back: the exported manifest adopts the VM with no other change', async () => {
    const { client } = await env();
    const dir = await folder({ 'sr.yaml': SR, 'vm.yaml': vm(ALL) });
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const [ref, rec] = await record(client, 'tuned');
    // Make it look hand-made: without xops' marks it is exported.
    for (const key of Object.keys(rec.other_config as object)) if (key.startsWith('xops.')) await client.call('VM.remove_from_other_config', ref, key);

    const observed = await takeSnapshot(client);
    const file = exportManifests(observed).files.find((f) => f.address === 'VM/tuned');
    expect(file).toBeDefined();
    for (const line of ['coresPerSocket: 2', 'nestedVirtualization: true', 'videoRam: 16', 'firmware: uefi', 'secureBoot: true', 'cpuCap: 50', 'cpuWeight: 512', 'startDelay: 30s', 'shutdownDelay: 60s', 'vm-data/role: web', 'suspendSR: store', 'vtpm: true']) {
      expect(file!.content).toContain(line);
    }
    const out = await folder({
      'sr.yaml': SR,
      'vm.yaml': file!.content,
      'adopt.yaml': 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: adopt}\nspec:\n  admission: []\n  automation: {adopt: true}\n',
    });
    const { desired, diagnostics } = await loadManifests(out, { live: liveInventoryFrom(observed) });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(desired.vms[0]!.spec).toMatchObject({ boot: { order: ['network', 'disk'], firmware: 'uefi', secureBoot: true }, blockedOperations: ['destroy'] });
    const plan = planChanges(desired, observed, { repo: REPO });
    expect(plan.actions.filter((a) => a.address === 'VM/tuned').map((a) => `${a.operation} ${JSON.stringify(a.changes)}`)).toEqual(['adopt []']);
  });
});

describe('a UEFI + secure boot + vTPM VM', () => {
  it('attaches a vTPM to a running VM by halting it (XAPI attaches one only while halted), once; removing it is destructive', async () => {
    const { client } = await env();
    const uefi = '  boot: {firmware: uefi, secureBoot: true}\n';
    const dir = await folder({ 'vm.yaml': vm(uefi) });
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const [ref] = await record(client, 'tuned');
    // XAPI's own rules, as the simulator enforces them (xen-api ocaml/xapi/xapi_vtpm.ml, xapi_vm.ml).
    await expect(client.call('VTPM.create', ref, false)).rejects.toThrow(/VM_BAD_POWER_STATE/);
    expect(await client.call('VM.get_secureboot_readiness', ref)).toBe('first_boot');

    await writeFile(join(dir, 'vm.yaml'), vm(`${uefi}  vtpm: true\n`));
    const add = await planFolder(client, dir);
    expect(add.plan.actions.map((a) => `${a.operation} ${a.disruption} ${a.changes.map((c) => c.path).join(',')}`)).toEqual(['update reboot spec.vtpm']);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const [, rec] = await record(client, 'tuned');
    expect(rec.power_state).toBe('Running');
    expect(rec.VTPMs as string[]).toHaveLength(1);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
    await client.call('VM.hard_shutdown', ref);
    await expect(client.call('VTPM.create', ref, false)).rejects.toThrow(/VTPM_MAX_AMOUNT_REACHED/);
    await writeFile(join(dir, 'vm.yaml'), vm('  boot: {firmware: bios}\n  vtpm: true\n', 'halted'));
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    expect(await client.call('VM.get_secureboot_readiness', ref)).toBe('not_supported');

    await writeFile(join(dir, 'vm.yaml'), vm('  boot: {firmware: bios}\n  vtpm: false\n', 'halted'));
    const remove = await planFolder(client, dir);
    expect(remove.plan.actions.map((a) => `${a.operation} ${a.disruption}`)).toEqual(['update destructive']);
    // Destructive: held until approved, like any other data loss.
    expect(failures((await applyFolder(client, dir)).result).join('\n')).toContain('destructive change needs approval');
    expect((await record(client, 'tuned'))[1].VTPMs).toHaveLength(1);
    await writeFile(join(dir, 'policy.yaml'), 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: ops}\nspec:\n  admission: []\n  automation: {approval: []}\n');
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    expect((await record(client, 'tuned'))[1].VTPMs).toEqual([]);
  });
});

describe('who owns start_delay', () => {
  it('refuses a VM startDelay when an appliance manifest lists the VM: the VMAppliance kind owns a member\'s delays', async () => {
    const { client } = await env();
    const appliance = 'apiVersion: xops/v1\nkind: VMAppliance\nmetadata: {name: shop}\nspec:\n  members:\n    - {vm: tuned, startOrder: 0, startDelay: 10s}\n';
    const dir = await folder({ 'vm.yaml': vm('  startDelay: 30s\n'), 'app.yaml': appliance });
    const { plan } = await planFolder(client, dir);
    expect(plan.refused.map((r) => `${r.address} ${r.path}`)).toEqual(['VM/tuned spec.startDelay']);
    expect(plan.refused[0]!.reason).toContain('members[].startDelay');
  });
});

describe('the loader refuses what XAPI would not do', () => {
  async function errorsOf(extra: string): Promise<string[]> {
    const dir = await folder({ 'vm.yaml': vm(extra) });
    const { diagnostics } = await loadManifests(dir, {});
    return diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.path}: ${d.message}`);
  }

  it('secure boot without UEFI firmware, cores that do not divide the vCPUs, delays on an appliance member', async () => {
    expect(await errorsOf('  boot: {firmware: bios, secureBoot: true}\n')).toEqual(['spec.boot.secureBoot: secureBoot needs firmware: uefi']);
    expect(await errorsOf('  coresPerSocket: 3\n')).toEqual(['spec.coresPerSocket: coresPerSocket (3) must divide vcpusMax (4)']);
    const member = await errorsOf('  appliance: shop\n  startDelay: 10s\n');
    expect(member.filter((e) => e.startsWith('spec.startDelay'))).toEqual([
      'spec.startDelay: startDelay of an appliance member is set by its VMAppliance manifest (members[].startDelay): remove it here',
    ]);
  });
});
