/**
 * The simulated guests: which VMs have PV drivers, when their agent reports, and what XAPI then allows. The
 * rules themselves are XAPI's (sources cited in src/sim/behaviour/guest.ts); these tests pin what a client of the
 * simulator sees, in process and over the control endpoint.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login } from './helpers.js';

let sim: Simulator;
let s: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);
async function err(method: string, ...params: unknown[]): Promise<string[]> {
  const r = await json(sim.url, method, [s, ...params]);
  if (!r.error) throw new Error(`${method} unexpectedly succeeded`);
  return [r.error.message, ...r.error.data];
}
const ref = (cls: string, name: string): string => sim.db.byName(cls, name).ref;
const rec = (r: string): Record<string, any> => sim.db.record(r);
const NULL = 'OpaqueRef:NULL';
const ETH0 = 'Pool-wide network associated with eth0';

async function control(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sim.url}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: await res.json() };
}

/** xe vm-install: clone + provision a template, then a NIC on eth0. */
async function install(template: string, name: string): Promise<string> {
  const vm = await call('VM.clone', ref('VM', template), name);
  await call('VM.provision', vm);
  await call('VIF.create', { device: '0', network: ref('network', ETH0), VM: vm, MAC: '', MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
  return vm;
}

async function newDisk(vm: string, userdevice = 'autodetect'): Promise<string> {
  const vdi = await call('VDI.create', { SR: ref('SR', 'pool-nfs'), virtual_size: 1024 ** 3, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'hot' });
  return call('VBD.create', { VM: vm, VDI: vdi, userdevice, bootable: false, mode: 'RW', type: 'Disk', empty: false, unpluggable: true, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
}

const GUEST_ASSISTED = ['clean_shutdown', 'clean_reboot', 'suspend', 'checkpoint', 'pool_migrate', 'changing_VCPUs_live'];

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  s = await login(sim);
});
afterAll(() => sim.stop());
beforeEach(() => {
  sim.guests.agentReports = 'on-start';
});

describe('the demo seed', () => {
  it('has a running guest with tools that has reported, and a driverless appliance', () => {
    const web = rec(ref('VM', 'legacy-web01'));
    const gm = rec(web.guest_metrics);
    expect(gm.live).toBe(true);
    expect(gm.PV_drivers_detected).toBe(true);
    expect(gm.PV_drivers_up_to_date).toBe(true);
    expect(gm.os_version).toMatchObject({ distro: 'debian', name: 'Debian GNU/Linux 11 (bullseye)', major: '11' });
    expect(gm.PV_drivers_version).toMatchObject({ major: expect.stringMatching(/^\d+$/), minor: expect.stringMatching(/^\d+$/) });
    // eth0 is the seed's first network: its default DHCP range starts at 10.1.0.10.
    expect(gm.networks).toEqual({ '0/ip': '10.1.0.10', '0/ipv4/0': '10.1.0.10' });
    expect(web.allowed_operations).toEqual(expect.arrayContaining(GUEST_ASSISTED));
    expect(rec(ref('VM', 'backup-appliance')).guest_metrics).toBe(NULL);
    expect(sim.guests.profile(ref('VM', 'Debian Bookworm 12')).tools).toBe(true);
    expect(sim.guests.profile(ref('VM', 'Other install media')).tools).toBe(false);
  });
});

describe('a guest without PV drivers', () => {
  it('runs, but refuses hot-plug and live vCPU changes and advertises no guest-assisted operations', async () => {
    const vm = ref('VM', 'backup-appliance');
    await call('VM.start', vm, false, false);
    expect(rec(vm).guest_metrics).toBe(NULL);
    const ops = rec(vm).allowed_operations as string[];
    for (const op of GUEST_ASSISTED) expect(ops).not.toContain(op);
    expect(ops).toEqual(expect.arrayContaining(['hard_shutdown', 'hard_reboot', 'pause', 'snapshot']));

    const vif = rec(vm).VIFs[0];
    expect(rec(vif).allowed_operations).not.toContain('unplug');
    expect(await err('VIF.unplug', vif)).toEqual(['VM_MISSING_PV_DRIVERS', vm]);
    const vbd = await newDisk(vm);
    expect(await err('VBD.plug', vbd)).toEqual(['VM_MISSING_PV_DRIVERS', vm]);
    expect(rec(vbd).currently_attached).toBe(false);
    expect(await err('VM.set_VCPUs_number_live', vm, 1)).toEqual(['VM_LACKS_FEATURE', vm]);

    // Outside allowed_operations but still attempted: xenopsd shuts a driverless HVM domain down without an ack.
    await call('VM.clean_shutdown', vm);
    expect(rec(vm).power_state).toBe('Halted');
    await call('VBD.destroy', vbd);
  });

  it('is what a VM made with VM.create from scratch is, and what a clone of a tools-less template is', async () => {
    const vm = await call('VM.clone', ref('VM', 'Other install media'), 'blank');
    await call('VM.provision', vm);
    await call('VM.start', vm, false, false);
    expect(rec(vm).guest_metrics).toBe(NULL);
    expect(rec(vm).allowed_operations).not.toContain('clean_shutdown');
    await call('VM.hard_shutdown', vm);
  });
});

describe('a guest with tools', () => {
  it('reports as soon as it starts: disks and NICs hot-plug, live vCPU changes work', async () => {
    const vm = await install('Debian Bookworm 12', 'tooled');
    await call('VM.start', vm, false, false);
    const gm = rec(rec(vm).guest_metrics);
    expect(gm.PV_drivers_detected).toBe(true);
    expect(gm.os_version.distro).toBe('debian');
    expect(rec(vm).allowed_operations).toEqual(expect.arrayContaining(GUEST_ASSISTED));
    const vbd = await newDisk(vm);
    expect(rec(vbd).allowed_operations).toContain('plug');
    await call('VBD.plug', vbd);
    expect(rec(vbd).allowed_operations).toEqual(expect.arrayContaining(['unplug', 'unplug_force']));
    await call('VBD.unplug', vbd);
    const vif = rec(vm).VIFs[0];
    await call('VIF.unplug', vif);
    expect(rec(rec(vm).guest_metrics).networks).toEqual({});
    await call('VIF.plug', vif);
    expect(Object.keys(rec(rec(vm).guest_metrics).networks)).toEqual(['0/ip', '0/ipv4/0']);
    await call('VM.set_VCPUs_number_live', vm, 1);
    await call('VM.hard_shutdown', vm);
  });

  it('keeps its last report, not live, while halted, and reports afresh on every boot', async () => {
    const vm = await install('Rocky Linux 9', 'reboots');
    await call('VM.start', vm, false, false);
    const first = rec(vm).guest_metrics;
    const ip = rec(first).networks['0/ip'];
    await call('VM.clean_reboot', vm);
    const second = rec(vm).guest_metrics;
    expect(second).not.toBe(first);
    expect(sim.db.get(first)).toBeUndefined();
    // The DHCP lease belongs to the MAC: the address survives the reboot.
    expect(rec(second).networks['0/ip']).toBe(ip);
    await call('VM.clean_shutdown', vm);
    expect(rec(vm).guest_metrics).toBe(second);
    expect(rec(second).live).toBe(false);
    await call('VM.start', vm, false, false);
    expect(rec(vm).guest_metrics).not.toBe(second);
    await call('VM.hard_shutdown', vm);
  });

  it('honours an explicit "no hotplug" claim from the agent', async () => {
    const vm = await install('Ubuntu Jammy Jellyfish 22.04', 'nohotplug');
    sim.guests.setProfile(vm, { ...sim.guests.profile(vm), canUseHotplugVbd: 'no' });
    await call('VM.start', vm, false, false);
    const vbd = await newDisk(vm);
    expect(await err('VBD.plug', vbd)).toEqual(['OPERATION_NOT_ALLOWED', 'VM states it does not support VBD hotplug.']);
    await call('VIF.unplug', rec(vm).VIFs[0]);
    await call('VM.hard_shutdown', vm);
  });

  it('refuses to suspend or migrate a guest whose agent gives a reason it cannot be suspended', async () => {
    // xen-api ocaml/xapi/xapi_vm_lifecycle.ml check_op_for_feature: data-cant-suspend-reason -> VM_NON_SUSPENDABLE.
    const vm = await install('Windows Server 2022 (64-bit)', 'uefi-win');
    sim.guests.setProfile(vm, { ...sim.guests.profile(vm), other: { 'data-cant-suspend-reason': 'UEFI guest' } });
    await call('VM.start', vm, false, false);
    expect(rec(vm).allowed_operations).not.toContain('suspend');
    expect(rec(vm).allowed_operations).toContain('clean_shutdown');
    expect(await err('VM.suspend', vm)).toEqual(['VM_NON_SUSPENDABLE', vm, 'UEFI guest']);
    expect(await err('VM.pool_migrate', vm, sim.hostRefs[1], {})).toEqual(['VM_NON_SUSPENDABLE', vm, 'UEFI guest']);
    await call('VM.clean_shutdown', vm);
  });
});

describe('driving the agents', () => {
  it("with agentReports 'manual', a booted guest is driverless until the test says its agent reported", async () => {
    const vm = await install('Debian Bookworm 12', 'slow-boot');
    sim.guests.agentReports = 'manual';
    await call('VM.start', vm, false, false);
    expect(rec(vm).guest_metrics).toBe(NULL);
    expect(await err('VIF.unplug', rec(vm).VIFs[0])).toEqual(['VM_MISSING_PV_DRIVERS', vm]);
    expect(rec(vm).allowed_operations).not.toContain('clean_shutdown');
    const gms = sim.guests.reportAll();
    expect(gms).toEqual([rec(vm).guest_metrics]);
    expect(rec(vm).allowed_operations).toContain('clean_shutdown');
    await call('VIF.unplug', rec(vm).VIFs[0]);
    await call('VM.hard_shutdown', vm);
  });

  it('over HTTP: switches a VM between kinds, sets the mode, makes an agent report and moves a DHCP range', async () => {
    const web = ref('VM', 'legacy-web01');
    const off = await control('POST', '/_sim/guests', { vm: 'legacy-web01', guest: { tools: false } });
    expect(off.status).toBe(200);
    expect(rec(web).guest_metrics).toBe(NULL);
    expect(rec(web).allowed_operations).not.toContain('clean_shutdown');
    expect(await err('VIF.unplug', rec(web).VIFs[0])).toEqual(['VM_MISSING_PV_DRIVERS', web]);

    expect((await control('POST', '/_sim/guests/mode', { agentReports: 'manual' })).body).toEqual({ agentReports: 'manual' });
    await control('POST', '/_sim/guests', { vm: rec(web).uuid, guest: { tools: true, os: { distro: 'debian', name: 'Debian GNU/Linux 11 (bullseye)' } } });
    expect(rec(web).guest_metrics).toBe(NULL);
    expect((await control('POST', '/_sim/guests/dhcp', { network: ETH0, first: '192.168.50.100', size: 10 })).status).toBe(200);
    const reported = await control('POST', '/_sim/guests/report', { vm: 'legacy-web01' });
    expect(reported.body.guest_metrics).toEqual([rec(web).guest_metrics]);
    expect(rec(rec(web).guest_metrics).networks['0/ip']).toBe('192.168.50.100');
    expect(rec(web).allowed_operations).toContain('clean_shutdown');

    const state = (await control('GET', '/_sim/guests')).body;
    expect(state.agentReports).toBe('manual');
    expect(state.guests[web]).toMatchObject({ name_label: 'legacy-web01', tools: true, guest_metrics: rec(web).guest_metrics });
    await control('POST', '/_sim/guests/mode', { agentReports: 'on-start' });
  });

  it("a client watching events sees the agent's report: the new VM_guest_metrics and the VM pointing at it", async () => {
    const vm = await install('Debian Bookworm 12', 'watched');
    sim.guests.agentReports = 'manual';
    await call('VM.start', vm, false, false);
    const { token } = await call('event.from', ['VM_guest_metrics', 'VM'], '', 0);
    await control('POST', '/_sim/guests/report', { vm });
    const r = await call('event.from', ['VM_guest_metrics', 'VM'], token, 5);
    const gm = rec(vm).guest_metrics;
    expect(r.events.find((e: any) => e.class === 'vm_guest_metrics')).toMatchObject({ operation: 'add', ref: gm, snapshot: { PV_drivers_detected: true } });
    expect(r.events.find((e: any) => e.class === 'vm' && e.ref === vm)?.snapshot.guest_metrics).toBe(gm);
    await call('VM.hard_shutdown', vm);
  });

  it('answers bad control requests with a 400 and a one-line reason', async () => {
    expect(await control('POST', '/_sim/guests', { vm: 'legacy-web01', guest: { os: { distro: 'x', name: 'y' } } })).toEqual({
      status: 400,
      body: { error: 'POST /_sim/guests: guest.tools must be true or false' },
    });
    expect((await control('POST', '/_sim/guests', { vm: 'nope', guest: { tools: true } })).body.error).toBe('no VM "nope"');
    expect((await control('POST', '/_sim/guests/report', { vm: 'backup-appliance' })).body.error).toMatch(/^VM_BAD_POWER_STATE/);
    expect((await control('POST', '/_sim/guests/mode', { agentReports: 'sometimes' })).status).toBe(400);
    expect((await control('POST', '/_sim/guests/dhcp', { network: ETH0, first: '10.0.0.300', size: 4 })).body.error).toBe('invalid IPv4 address "10.0.0.300"');
  });
});
