import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login } from './helpers.js';

const GiB = 1024 ** 3;
let sim: Simulator;
let s: string;
let call: (method: string, ...params: unknown[]) => Promise<any>;
let err: (method: string, ...params: unknown[]) => Promise<string[]>;
const ref = (cls: string, name: string): string => sim.db.byName(cls, name).ref;
const rec = (r: string): Record<string, any> => sim.db.record(r);

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  s = await login(sim);
  call = (method, ...params) => jsonOk(sim.url, method, s, ...params);
  err = async (method, ...params) => {
    const r = await json(sim.url, method, [s, ...params]);
    if (!r.error) throw new Error(`${method} unexpectedly succeeded`);
    return [r.error.message, ...r.error.data];
  };
});
afterAll(() => sim.stop());

/** clone + provision a template into a Halted VM, the way xe vm-install does. */
async function install(template: string, name: string): Promise<string> {
  const vm = await call('VM.clone', ref('VM', template), name);
  await call('VM.provision', vm);
  return vm;
}

describe('the demo seed', () => {
  it('has the names other modules rely on', () => {
    expect(rec(sim.poolRef).name_label).toBe('demo');
    expect(sim.hostRefs.map((h) => rec(h).name_label)).toEqual(['xcp-host1', 'xcp-host2', 'xcp-host3']);
    expect(sim.hostRefs.map((h) => rec(h).address)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    expect(rec(sim.poolRef).master).toBe(sim.hostRefs[0]);
    expect(rec(sim.poolRef).default_SR).toBe(ref('SR', 'pool-nfs'));
    for (const h of sim.hostRefs) {
      const pifs = (rec(h).PIFs as string[]).map((p) => rec(p));
      expect(pifs.map((p) => p.device).sort()).toEqual(['eth0', 'eth1', 'eth2', 'eth3']);
      expect(pifs.find((p) => p.device === 'eth0')!.management).toBe(true);
      expect(rec(rec(h).control_domain).is_control_domain).toBe(true);
    }
    const eth0 = ref('network', 'Pool-wide network associated with eth0');
    expect(rec(eth0).bridge).toBe('xenbr0');
    expect(rec(eth0).PIFs).toHaveLength(3);
    expect(rec(ref('SR', 'Local storage on xcp-host2')).shared).toBe(false);
    expect(rec(ref('SR', 'XCP-ng Tools')).type).toBe('iso');
    for (const t of ['Debian Bookworm 12', 'Ubuntu Jammy Jellyfish 22.04', 'Rocky Linux 9', 'Windows Server 2022 (64-bit)', 'Other install media']) {
      expect(rec(ref('VM', t)).is_a_template).toBe(true);
    }
    expect(rec(ref('VM', 'Debian Bookworm 12')).other_config.disks).toBe(
      '<provision><disk device="0" size="10737418240" sr="" bootable="true" type="system"/></provision>',
    );
    const web = rec(ref('VM', 'legacy-web01'));
    expect([web.power_state, rec(web.resident_on).name_label, web.VCPUs_max, web.memory_static_max]).toEqual(['Running', 'xcp-host1', 2, 2 * GiB]);
    expect(rec(ref('VM', 'backup-appliance')).power_state).toBe('Halted');
  });
});

describe('VM lifecycle', () => {
  it('clones a template, provisions its disks on the default SR and starts it', async () => {
    const vm = await install('Debian Bookworm 12', 'web02');
    const r = rec(vm);
    expect(r.is_a_template).toBe(false);
    expect(r.is_default_template).toBe(false);
    expect(r.other_config.base_template_name).toBe('Debian Bookworm 12');
    expect(r.other_config.disks).toBeUndefined();
    expect(r.VBDs).toHaveLength(1);
    const vbd = rec(r.VBDs[0]);
    expect([vbd.userdevice, vbd.bootable, vbd.mode, vbd.type, vbd.unpluggable]).toEqual(['0', true, 'RW', 'Disk', false]);
    const vdi = rec(vbd.VDI);
    expect([vdi.SR, vdi.virtual_size, vdi.sm_config.vmhint]).toEqual([ref('SR', 'pool-nfs'), 10 * GiB, r.uuid]);
    expect(rec(r.metrics).memory_actual).toBe(0);
    await call('VM.start', vm, false, false);
    expect(rec(vm).power_state).toBe('Running');
    expect(rec(vbd.VDI).VBDs).toContain(r.VBDs[0]);
    expect(rec(r.VBDs[0]).currently_attached).toBe(true);
    expect(rec(rec(vm).resident_on).resident_VMs).toContain(vm);
    expect(await err('VM.start', vm, false, false)).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
  });

  it('walks through pause, suspend, resume, reboot and shutdown with XAPI power-state errors', async () => {
    const vm = await install('Rocky Linux 9', 'app01');
    expect(await err('VM.clean_shutdown', vm)).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'halted']);
    await call('VM.start', vm, true, false);
    expect(rec(vm).power_state).toBe('Paused');
    await call('VM.unpause', vm);
    await call('VM.suspend', vm);
    expect(rec(vm).power_state).toBe('Suspended');
    expect(rec(vm).resident_on).toBe('OpaqueRef:NULL');
    expect(rec(rec(vm).suspend_VDI).type).toBe('suspend');
    expect(await err('VM.clean_reboot', vm)).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'suspended']);
    await call('VM.resume', vm, false, false);
    expect(rec(vm).suspend_VDI).toBe('OpaqueRef:NULL');
    const domid = rec(vm).domid;
    await call('VM.clean_reboot', vm);
    expect(rec(vm).domid).not.toBe(domid);
    await call('VM.hard_reboot', vm);
    await call('VM.clean_shutdown', vm);
    expect(rec(vm).power_state).toBe('Halted');
    expect(rec(rec(vm).VBDs[0]).currently_attached).toBe(false);
  });

  it('refuses to start templates and destroys VMs but keeps their disks', async () => {
    const tpl = ref('VM', 'Other install media');
    expect(await err('VM.start', tpl, false, false)).toEqual(['VM_IS_TEMPLATE', tpl, 'start']);
    const vm = await install('Ubuntu Jammy Jellyfish 22.04', 'tmp01');
    const vdi = rec(rec(vm).VBDs[0]).VDI;
    await call('VM.start', vm, false, false);
    expect((await err('VM.destroy', vm))[0]).toBe('VM_BAD_POWER_STATE');
    await call('VM.hard_shutdown', vm);
    await call('VM.destroy', vm);
    expect(sim.db.get(vm)).toBeUndefined();
    expect(rec(vdi).VBDs).toEqual([]);
    expect(await err('VM.get_record', vm)).toEqual(['HANDLE_INVALID', 'VM', vm]);
  });

  it('refuses provision on a non-template and unknown SR uuids in the disks XML', async () => {
    const web = ref('VM', 'legacy-web01');
    await call('VM.hard_shutdown', web);
    expect(await err('VM.provision', web)).toEqual(['ONLY_PROVISION_TEMPLATE']);
    await call('VM.start_on', web, sim.hostRefs[0], false, false);
    const vm = await call('VM.clone', ref('VM', 'Rocky Linux 9'), 'bad-sr');
    await call('VM.remove_from_other_config', vm, 'disks');
    await call('VM.add_to_other_config', vm, 'disks', '<provision><disk device="0" size="1" sr="nope" bootable="true" type="system"/></provision>');
    expect(await err('VM.provision', vm)).toEqual(['UUID_INVALID', 'sr', 'nope']);
  });

  it('copies a VM into another SR and snapshots it', async () => {
    const vm = await install('Debian Bookworm 12', 'copy-src');
    const local = ref('SR', 'Local storage on xcp-host1');
    const copy = await call('VM.copy', vm, 'copy-dst', local);
    expect(rec(rec(rec(copy).VBDs[0]).VDI).SR).toBe(local);
    expect(await err('VM.copy', vm, 'x', ref('SR', 'XCP-ng Tools'))).toEqual(['OPERATION_NOT_ALLOWED', "Cannot copy a VM's disks to an ISO SR"]);
    const snap = await call('VM.snapshot', vm, 'before-upgrade');
    expect([rec(snap).is_a_snapshot, rec(snap).is_a_template, rec(snap).snapshot_of]).toEqual([true, true, vm]);
    expect(rec(vm).snapshots).toEqual([snap]);
  });

  it('enforces static_min <= dynamic_min <= dynamic_max <= static_max and the halted-only setters', async () => {
    const vm = await install('Debian Bookworm 12', 'mem01');
    await call('VM.set_memory_limits', vm, GiB, 4 * GiB, 2 * GiB, 4 * GiB);
    expect([rec(vm).memory_static_max, rec(vm).memory_dynamic_min, rec(vm).memory_target]).toEqual([4 * GiB, 2 * GiB, 2 * GiB]);
    expect(await err('VM.set_memory_limits', vm, GiB, 2 * GiB, 3 * GiB, 2 * GiB)).toEqual(['MEMORY_CONSTRAINT_VIOLATION_ORDER']);
    expect(await err('VM.set_memory_static_max', vm, GiB)).toEqual(['MEMORY_CONSTRAINT_VIOLATION_ORDER']);
    await call('VM.set_memory', vm, 3 * GiB);
    expect([rec(vm).memory_static_max, rec(vm).memory_dynamic_max, rec(vm).memory_static_min]).toEqual([3 * GiB, 3 * GiB, GiB]);
    await call('VM.start', vm, false, false);
    expect((await err('VM.set_memory_limits', vm, GiB, 4 * GiB, 2 * GiB, 4 * GiB))[0]).toBe('VM_BAD_POWER_STATE');
    await call('VM.set_memory_dynamic_range', vm, 2 * GiB, 3 * GiB);
    expect(rec(rec(vm).metrics).memory_actual).toBe(3 * GiB);
  });

  it('applies the VCPU rules', async () => {
    const vm = await install('Debian Bookworm 12', 'cpu01');
    await call('VM.set_VCPUs_max', vm, 4);
    await call('VM.set_VCPUs_at_startup', vm, 2);
    expect(await err('VM.set_VCPUs_at_startup', vm, 8)).toEqual(['VALUE_NOT_SUPPORTED', 'VCPUs-at-startup', '8', 'value greater than VCPUs-max']);
    expect(await err('VM.set_VCPUs_number_live', vm, 3)).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'halted']);
    await call('VM.start', vm, false, false);
    expect(await err('VM.set_VCPUs_max', vm, 8)).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
    await call('VM.set_VCPUs_number_live', vm, 3);
    expect(rec(rec(vm).metrics).VCPUs_number).toBe(3);
  });

  it('accounts host memory: a VM that does not fit fails HOST_NOT_ENOUGH_FREE_MEMORY', async () => {
    const vm = await install('Debian Bookworm 12', 'huge');
    await call('VM.set_memory_limits', vm, GiB, 200 * GiB, 200 * GiB, 200 * GiB);
    const e = await err('VM.start_on', vm, sim.hostRefs[1], false, false);
    expect(e[0]).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    // needed = dynamic_min plus the domain overhead XAPI adds (see test/sim/xapi-rules.test.ts for the formula).
    expect(Number(e[1])).toBe(200 * GiB + rec(vm).memory_overhead);
    const small = await install('Debian Bookworm 12', 'fits');
    const host = sim.hostRefs[2]!;
    const before = rec(rec(host).metrics).memory_free;
    await call('VM.start_on', small, host, false, false);
    expect(rec(rec(host).metrics).memory_free).toBe(before - 2 * GiB - rec(small).memory_overhead);
  });

  it('starts a VM with local disks only on the host that sees them', async () => {
    const backup = ref('VM', 'backup-appliance');
    expect((await err('VM.start_on', backup, sim.hostRefs[0], false, false))[0]).toBe('VM_REQUIRES_SR');
    await call('VM.start', backup, false, false);
    expect(rec(backup).resident_on).toBe(sim.hostRefs[1]);
    await call('VM.hard_shutdown', backup);
  });

  it('migrates within the pool, sets affinity and HA priority', async () => {
    const vm = await install('Debian Bookworm 12', 'mig01');
    await call('VM.set_affinity', vm, sim.hostRefs[1]);
    await call('VM.start', vm, false, false);
    expect(rec(vm).resident_on).toBe(sim.hostRefs[1]);
    await call('VM.pool_migrate', vm, sim.hostRefs[2], {});
    expect(rec(vm).resident_on).toBe(sim.hostRefs[2]);
    expect(rec(sim.hostRefs[1]!).resident_VMs).not.toContain(vm);
    await call('VM.set_ha_restart_priority', vm, 'restart');
    expect(rec(vm).ha_restart_priority).toBe('restart');
    expect((await err('VM.set_affinity', vm, 'OpaqueRef:nope'))[0]).toBe('HANDLE_INVALID');
  });

  it('creates VM_metrics with VM.create and requires the mandatory fields', async () => {
    const base = { ...rec(ref('VM', 'backup-appliance')) };
    const input: Record<string, unknown> = {};
    for (const f of sim.db.model.classes.get('VM')!.fields) if (f.qualifier !== 'RO/runtime') input[f.name] = base[f.name];
    input.name_label = 'raw-create';
    const vm = await call('VM.create', input);
    expect(rec(rec(vm).metrics).uuid).toBeTruthy();
    delete input.affinity;
    expect((await err('VM.create', input))[0]).toBe('INTERNAL_ERROR');
  });
});

describe('storage', () => {
  it('creates an NFS SR with a plugged PBD per host and checks device_config', async () => {
    const sr = await call('SR.create', sim.hostRefs[0], { server: '10.0.0.9', serverpath: '/x' }, 0, 'nfs2', '', 'nfs', 'user', true, {});
    const pbds = rec(sr).PBDs.map((p: string) => rec(p));
    expect(pbds).toHaveLength(3);
    expect(pbds.every((p: any) => p.currently_attached)).toBe(true);
    expect((await err('SR.create', sim.hostRefs[0], { server: '10.0.0.9' }, 0, 'bad', '', 'nfs', 'user', true, {}))[0]).toMatch(/^SR_BACKEND_FAILURE_/);
    expect(await err('SR.create', sim.hostRefs[0], {}, 0, 'bad', '', 'zfs', 'user', false, {})).toEqual(['SR_UNKNOWN_DRIVER', 'zfs']);
    const local = await call('SR.create', sim.hostRefs[1], { device: '/dev/sdb' }, 100 * GiB, 'lvm2', '', 'lvm', 'user', false, {});
    expect(rec(local).PBDs.map((p: string) => rec(p).host)).toEqual([sim.hostRefs[1]]);
    expect(await err('SR.destroy', sr)).toEqual(['SR_HAS_PBD', sr]);
    for (const p of rec(sr).PBDs) await call('PBD.unplug', p);
    await call('SR.forget', sr);
    expect(sim.db.get(sr)).toBeUndefined();
  });

  it('creates, resizes and destroys VDIs; refuses VDI_IN_USE and shrinking', async () => {
    const sr = ref('SR', 'pool-nfs');
    const vdi = await call('VDI.create', { SR: sr, virtual_size: GiB, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'data' });
    await call('VDI.resize', vdi, 2 * GiB);
    expect(rec(vdi).virtual_size).toBe(2 * GiB);
    expect((await err('VDI.resize', vdi, GiB))[0]).toMatch(/^SR_BACKEND_FAILURE_/);
    const web = ref('VM', 'legacy-web01');
    const vbd = await call('VBD.create', {
      VM: web, VDI: vdi, userdevice: 'autodetect', bootable: false, mode: 'RW', type: 'Disk', empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
    });
    expect(rec(vbd).userdevice).toBe('1');
    expect(rec(vbd).currently_attached).toBe(false);
    await call('VBD.plug', vbd);
    expect(await err('VDI.destroy', vdi)).toEqual(['VDI_IN_USE', vdi, 'destroy']);
    const pbd = rec(sr).PBDs.find((p: string) => rec(p).host === sim.hostRefs[0]);
    expect((await err('PBD.unplug', pbd))[0]).toBe('VDI_IN_USE');
    expect(await err('VBD.destroy', vbd)).toEqual(['DEVICE_ALREADY_ATTACHED', vbd]);
    await call('VBD.unplug', vbd);
    expect(await err('VBD.unplug', vbd)).toEqual(['DEVICE_ALREADY_DETACHED', vbd]);
    await call('VBD.destroy', vbd);
    await call('VDI.destroy', vdi);
    expect(sim.db.get(vdi)).toBeUndefined();
  });

  it('refuses a second PBD for the same SR and host', async () => {
    const sr = ref('SR', 'pool-nfs');
    const e = await err('PBD.create', { host: sim.hostRefs[0], SR: sr, device_config: {} });
    expect(e[0]).toBe('PBD_EXISTS');
  });
});

describe('networking', () => {
  it('creates networks with bridge rules and destroys them unless in use', async () => {
    const net = await call('network.create', { name_label: 'lab', other_config: {}, MTU: 0 });
    expect(rec(net).bridge).toMatch(/^xapi\d+$/);
    expect(rec(net).MTU).toBe(1500);
    expect(await err('network.create', { name_label: 'x', other_config: {}, bridge: 'xenbr9' })).toEqual(['INVALID_VALUE', 'bridge', 'xenbr9']);
    const custom = await call('network.create', { name_label: 'lab2', other_config: {}, bridge: 'br-lab' });
    expect(await err('network.create', { name_label: 'x', other_config: {}, bridge: 'br-lab' })).toEqual(['BRIDGE_NAME_EXISTS', 'br-lab']);
    await call('network.destroy', net);
    await call('network.destroy', custom);
    const eth0 = ref('network', 'Pool-wide network associated with eth0');
    expect((await err('network.destroy', eth0))[0]).toBe('NETWORK_CONTAINS_VIF');
  });

  it('creates a VLAN on every host with a new untagged PIF each', async () => {
    const net = await call('network.create', { name_label: 'vlan100', other_config: {} });
    const eth1 = (rec(sim.hostRefs[0]!).PIFs as string[]).find((p) => rec(p).device === 'eth1')!;
    const pifs = await call('pool.create_VLAN_from_PIF', eth1, net, 100);
    expect(pifs).toHaveLength(3);
    const untagged = rec(pifs[0]);
    expect([untagged.VLAN, untagged.MAC, untagged.physical, untagged.device]).toEqual([100, 'fe:ff:ff:ff:ff:ff', false, 'eth1']);
    const vlan = untagged.VLAN_master_of;
    expect(rec(vlan).tagged_PIF).toBe(eth1);
    expect(rec(eth1).VLAN_slave_of).toContain(vlan);
    const other = await call('network.create', { name_label: 'vlan100b', other_config: {} });
    expect(await err('VLAN.create', eth1, 100, other)).toEqual(['PIF_VLAN_EXISTS', 'eth1']);
    expect(await err('VLAN.create', eth1, 5000, other)).toEqual(['VLAN_TAG_INVALID', '5000']);
    await call('VLAN.destroy', vlan);
    expect(sim.db.get(pifs[0])).toBeUndefined();
    expect(rec(eth1).VLAN_slave_of).not.toContain(vlan);
  });

  it('bonds two PIFs and undoes it', async () => {
    const net = await call('network.create', { name_label: 'bond-net', other_config: {} });
    const host = sim.hostRefs[2]!;
    const [p2, p3] = ['eth2', 'eth3'].map((d) => (rec(host).PIFs as string[]).find((p) => rec(p).device === d)!);
    expect(await err('Bond.create', net, [p2], '', 'active-backup', {})).toEqual(['PIF_BOND_NEEDS_MORE_MEMBERS']);
    const bond = await call('Bond.create', net, [p2, p3], '', 'lacp', {});
    const master = rec(bond).master;
    expect(rec(master).device).toBe('bond0');
    expect(rec(master).bond_master_of).toEqual([bond]);
    expect(rec(p2).bond_slave_of).toBe(bond);
    expect(rec(bond).properties['lacp-time']).toBe('slow');
    expect(rec(bond).slaves.sort()).toEqual([p2, p3].sort());
    await call('Bond.destroy', bond);
    expect(rec(p2).bond_slave_of).toBe('OpaqueRef:NULL');
    expect(sim.db.get(master)).toBeUndefined();
  });

  it('creates, plugs, moves and destroys VIFs', async () => {
    const web = ref('VM', 'legacy-web01');
    const net = ref('network', 'Pool-wide network associated with eth1');
    const vif = await call('VIF.create', { device: '1', network: net, VM: web, MAC: '', MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    expect(rec(vif).MAC).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(await err('VIF.create', { device: '1', network: net, VM: web, MAC: '', MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} })).toEqual([
      'DEVICE_ALREADY_EXISTS',
      '1',
    ]);
    await call('VIF.plug', vif);
    const eth2 = ref('network', 'Pool-wide network associated with eth2');
    await call('VIF.move', vif, eth2);
    expect(rec(eth2).VIFs).toContain(vif);
    expect(rec(net).VIFs).not.toContain(vif);
    await call('VIF.unplug', vif);
    await call('VIF.destroy', vif);
    expect(rec(web).VIFs).not.toContain(vif);
  });
});

describe('pool and appliances', () => {
  it('sets the default SR, name, other_config and tags', async () => {
    const local = ref('SR', 'Local storage on xcp-host1');
    await call('pool.set_default_SR', sim.poolRef, local);
    expect(rec(sim.poolRef).default_SR).toBe(local);
    await call('pool.set_default_SR', sim.poolRef, ref('SR', 'pool-nfs'));
    await call('pool.set_name_label', sim.poolRef, 'demo');
    await call('pool.add_to_other_config', sim.poolRef, 'xops.lease', 'a');
    expect((await err('pool.add_to_other_config', sim.poolRef, 'xops.lease', 'b'))[0]).toBe('MAP_DUPLICATE_KEY');
    await call('pool.remove_from_other_config', sim.poolRef, 'xops.lease');
    await call('pool.add_tags', sim.poolRef, 'prod');
    expect(rec(sim.poolRef).tags).toEqual(['prod']);
  });

  it('starts and stops an appliance in order', async () => {
    const app = await call('VM_appliance.create', { name_label: 'stack', name_description: '' });
    const a = await install('Debian Bookworm 12', 'stack-db');
    const b = await install('Debian Bookworm 12', 'stack-web');
    await call('VM.set_appliance', a, app);
    await call('VM.set_appliance', b, app);
    await call('VM.set_order', a, 0);
    await call('VM.set_order', b, 1);
    expect(rec(app).VMs.sort()).toEqual([a, b].sort());
    await call('VM_appliance.start', app, false);
    expect([rec(a).power_state, rec(b).power_state]).toEqual(['Running', 'Running']);
    await call('VM_appliance.clean_shutdown', app);
    expect([rec(a).power_state, rec(b).power_state]).toEqual(['Halted', 'Halted']);
    await call('VM_appliance.destroy', app);
    expect(rec(a).appliance).toBe('OpaqueRef:NULL');
  });
});
