/**
 * XAPI rules clients rely on, one test per rule, each citing where the real behaviour is defined
 * (xapi-project/xen-api or xapi-project/sm, path given in the test's comment).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { linuxDeviceName } from '../../src/sim/behaviour/devices.js';
import { json, jsonOk, login } from './helpers.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
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

async function install(name: string, template = 'Debian Bookworm 12'): Promise<string> {
  const vm = await call('VM.clone', ref('VM', template), name);
  await call('VM.provision', vm);
  return vm;
}
const vdiRecord = (sr: string, size: number) => ({ SR: sr, virtual_size: size, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'd' });
const vbdRecord = (vm: string, vdi: string, userdevice: string, extra: Record<string, unknown> = {}) => ({
  VM: vm, VDI: vdi, userdevice, bootable: false, mode: 'RW', type: 'Disk', empty: false, unpluggable: true, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {}, ...extra,
});
const vifRecord = (vm: string, device: string) => ({
  device, network: ref('network', 'Pool-wide network associated with eth0'), VM: vm, MAC: '', MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
});

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  s = await login(sim);
});
afterAll(() => sim.stop());

describe('device numbers and names', () => {
  it('VM.get_allowed_VBD_devices offers 0..254 minus the disks in use; get_allowed_VIF_devices 0..15', async () => {
    // xen-api ocaml/xapi/xapi_vm_helpers.ml: allowed_VBD_devices_HVM = vbd_inclusive_range true 0 254,
    // allowed_VIF_devices_HVM = vif_inclusive_range 0 15; used devices are filtered out.
    const vm = await install('devnums');
    const vbd = await call('VM.get_allowed_VBD_devices', vm);
    expect(vbd).toHaveLength(254);
    expect(vbd[0]).toBe('1');
    expect(vbd.at(-1)).toBe('254');
    await call('VIF.create', vifRecord(vm, '3'));
    const vif = await call('VM.get_allowed_VIF_devices', vm);
    expect(vif).toEqual(['0', '1', '2', ...Array.from({ length: 12 }, (_, i) => String(i + 4))]);
  });

  it('names disks past xvdz in bijective base 26: xvdaa, xvdab ... xvdzz, xvdaaa', async () => {
    // xen-api ocaml/xapi-idl/xen/device_number.ml: string_of_int26, "0 -> a 25 -> z 26 -> aa".
    expect([0, 25, 26, 27, 51, 52, 701, 702].map(linuxDeviceName)).toEqual(['xvda', 'xvdz', 'xvdaa', 'xvdab', 'xvdaz', 'xvdba', 'xvdzz', 'xvdaaa']);
    const vm = await install('manydisks');
    await call('VM.start', vm, false, false);
    const vdi = await call('VDI.create', vdiRecord(ref('SR', 'pool-nfs'), GiB));
    const vbd = await call('VBD.create', vbdRecord(vm, vdi, '26'));
    expect(rec(vbd).device).toBe('');
    await call('VBD.plug', vbd);
    expect(rec(vbd).device).toBe('xvdaa');
    await call('VBD.unplug', vbd);
    await call('VM.hard_shutdown', vm);
  });

  it('refuses device strings XAPI cannot parse with INVALID_DEVICE, and clashes under any spelling', async () => {
    // xen-api ocaml/xapi/xapi_vbd_helpers.ml valid_device (a number, "autodetect" or a Linux name);
    // ocaml/xapi/xapi_vbd.ml create: possible_VBD_devices_of_string expands "0" to hda/xvda for the clash check;
    // ocaml/xapi/xapi_vif_helpers.ml valid_device: "%u" only.
    const vm = await install('baddev');
    const vdi = await call('VDI.create', vdiRecord(ref('SR', 'pool-nfs'), GiB));
    expect(await err('VBD.create', vbdRecord(vm, vdi, 'disk1'))).toEqual(['INVALID_DEVICE', 'disk1']);
    expect(await err('VBD.create', vbdRecord(vm, vdi, 'xvda'))).toEqual(['DEVICE_ALREADY_EXISTS', 'xvda']);
    const named = await call('VBD.create', vbdRecord(vm, vdi, 'xvdc'));
    expect(await err('VBD.create', vbdRecord(vm, vdi, '2'))).toEqual(['DEVICE_ALREADY_EXISTS', '2']);
    expect(await call('VM.get_allowed_VBD_devices', vm)).not.toContain('2');
    expect(await err('VIF.create', vifRecord(vm, 'eth1'))).toEqual(['INVALID_DEVICE', 'eth1']);
    await call('VBD.destroy', named);
  });

  it('a VBD that is not unpluggable refuses unplug and unplug_force, and does not list them', async () => {
    // xen-api ocaml/xapi/xapi_vbd_helpers.ml valid_operations: "Drives marked as not unpluggable cannot be unplugged"
    // (vbd_not_unpluggable for `unplug and `unplug_force, checked before the attachment state).
    const vm = await install('pinned');
    await call('VM.start', vm, false, false);
    const root = rec(vm).VBDs.find((v: string) => rec(v).userdevice === '0');
    await call('VBD.set_unpluggable', root, false);
    await call('VM.hard_reboot', vm);
    expect(rec(root).allowed_operations).not.toContain('unplug');
    expect(await err('VBD.unplug', root)).toEqual(['VBD_NOT_UNPLUGGABLE', root]);
    expect(await err('VBD.unplug_force', root)).toEqual(['VBD_NOT_UNPLUGGABLE', root]);
    await call('VM.hard_shutdown', vm);
  });
});

describe('storage backends', () => {
  it('a thick LVM SR refuses a VDI it cannot hold with SR_BACKEND_FAILURE_44; a thin NFS SR overcommits', async () => {
    // xapi-project/sm libs/sm/drivers/LVHDSR.py _ensureSpaceAvailable raises SRNoSpace, code 44 "There is
    // insufficient space" in libs/sm/core/XE_SR_ERRORCODES.xml; xen-api ocaml/xapi/sm_exec.ml relays a fault as
    // SR_BACKEND_FAILURE_<code> ["", reason, stderr]. FileSR.py create never checks free space.
    const lvm = ref('SR', 'Local storage on xcp-host3');
    const free = rec(lvm).physical_size - rec(lvm).physical_utilisation;
    expect(await err('VDI.create', vdiRecord(lvm, free + 2 * MiB))).toEqual(['SR_BACKEND_FAILURE_44', '', 'There is insufficient space', '']);
    const nfs = ref('SR', 'pool-nfs');
    const big = [await call('VDI.create', vdiRecord(nfs, 2040 * GiB)), await call('VDI.create', vdiRecord(nfs, 2040 * GiB))];
    expect(rec(nfs).virtual_allocation).toBeGreaterThan(rec(nfs).physical_size);
    for (const v of big) await call('VDI.destroy', v);
  });

  it('VHD sizes: above 2040 GiB or shrinking fail SR_BACKEND_FAILURE_79; sizes round up to 2 MiB blocks', async () => {
    // xapi-project/sm libs/sm/vhdutil.py validate_and_round_vhd_size (MAX_VHD_SIZE 2040 GiB, VHD_BLOCK_SIZE 2 MiB)
    // and FileSR.py / LVHDSR.py resize ("shrinking not allowed"), VDISize = 79.
    const nfs = ref('SR', 'pool-nfs');
    expect(await err('VDI.create', vdiRecord(nfs, 2041 * GiB))).toEqual(['SR_BACKEND_FAILURE_79', '', 'VDI Invalid size [opterr=VDI size must be between 1 MB and 2088960 MB]', '']);
    const vdi = await call('VDI.create', vdiRecord(nfs, 3 * MiB + 1));
    expect(rec(vdi).virtual_size).toBe(4 * MiB);
    expect(await err('VDI.resize', vdi, 2 * MiB)).toEqual(['SR_BACKEND_FAILURE_79', '', 'VDI Invalid size [opterr=shrinking not allowed]', '']);
    await call('VDI.destroy', vdi);
  });

  it('VDI.resize_online needs the VDI_RESIZE_ONLINE driver feature, which no SM driver has', async () => {
    // xen-api ocaml/xapi/xapi_vdi.ml check_sm_feature_error (sr_operation_not_supported); xapi-project/sm
    // libs/sm/drivers/LVHDSR.py and NFSSR.py CAPABILITIES list VDI_RESIZE but not VDI_RESIZE_ONLINE.
    for (const name of ['pool-nfs', 'Local storage on xcp-host1']) {
      const sr = ref('SR', name);
      expect(rec(sr).allowed_operations).not.toContain('vdi_resize_online');
      const vdi = await call('VDI.create', vdiRecord(sr, GiB));
      expect(await err('VDI.resize_online', vdi, 2 * GiB)).toEqual(['SR_OPERATION_NOT_SUPPORTED', sr]);
      expect(rec(vdi).virtual_size).toBe(GiB);
      await call('VDI.destroy', vdi);
    }
  });

  it('keeps SR physical_utilisation and virtual_allocation in step with VDI create, resize and destroy', async () => {
    // xapi-project/sm libs/sm/drivers/LVHDSR.py: thick volumes are allocated in full (calcSizeVHDLV), and the SR's
    // virtual_allocation is updated by each VDI's size (_updateStats with virtAllocDelta).
    const lvm = ref('SR', 'Local storage on xcp-host1');
    const before = { v: rec(lvm).virtual_allocation, p: rec(lvm).physical_utilisation };
    const vdi = await call('VDI.create', vdiRecord(lvm, 10 * GiB));
    expect([rec(lvm).virtual_allocation - before.v, rec(lvm).physical_utilisation - before.p]).toEqual([10 * GiB, 10 * GiB]);
    await call('VDI.resize', vdi, 12 * GiB);
    expect([rec(lvm).virtual_allocation - before.v, rec(lvm).physical_utilisation - before.p]).toEqual([12 * GiB, 12 * GiB]);
    const free = rec(lvm).physical_size - rec(lvm).physical_utilisation;
    expect((await err('VDI.resize', vdi, 12 * GiB + free + 2 * MiB))[0]).toBe('SR_BACKEND_FAILURE_44');
    await call('VDI.destroy', vdi);
    expect([rec(lvm).virtual_allocation, rec(lvm).physical_utilisation]).toEqual([before.v, before.p]);
  });

  it('VM.copy to a thick SR without room fails SR_BACKEND_FAILURE_44 and leaves no VM behind', async () => {
    // xen-api ocaml/xapi/xapi_vm_clone.ml clone: safe_clone_disks runs before copy_vm_record, deleting disks it
    // made when one fails.
    const vm = await install('bigcopy');
    const root = rec(rec(vm).VBDs[0]).VDI;
    const lvm = await call('SR.create', sim.hostRefs[0], { device: '/dev/sdz' }, 5 * GiB, 'tiny-lvm', '', 'lvm', 'user', false, {});
    const vmsBefore = sim.db.count('VM');
    expect(rec(root).virtual_size).toBeGreaterThan(5 * GiB);
    expect((await err('VM.copy', vm, 'bigcopy-2', lvm))[0]).toBe('SR_BACKEND_FAILURE_44');
    expect(sim.db.count('VM')).toBe(vmsBefore);
    expect(rec(lvm).VDIs).toEqual([]);
  });
});

describe('suspend', () => {
  it('suspends to VM.suspend_SR, else pool.suspend_image_SR, else the host\'s, never to default_SR', async () => {
    // xen-api ocaml/xapi/helpers.ml choose_suspend_sr (each candidate must have a PBD on the VM's host);
    // ocaml/xapi/xapi_xenops.ml suspend: image "Suspend image" of static_max * 1.2 * 1.05 + 100 MiB.
    const vm = await install('sleeper');
    const host = sim.hostRefs[0]!;
    await call('VM.start_on', vm, host, false, false);
    const nfs = ref('SR', 'pool-nfs');
    const local = ref('SR', 'Local storage on xcp-host1');
    expect(rec(host).suspend_image_sr).toBe(local);
    const size = Math.floor(2 * GiB * 1.2 * 1.05) + 100 * MiB;

    await call('pool.set_suspend_image_SR', sim.poolRef, NULL);
    await call('VM.suspend', vm);
    expect(rec(rec(vm).suspend_VDI).SR).toBe(local);
    await call('VM.resume_on', vm, host, false, false);

    sim.db.set(host, 'suspend_image_sr', NULL);
    expect(rec(sim.poolRef).default_SR).toBe(nfs);
    expect(await err('VM.suspend', vm)).toEqual(['VM_NO_SUSPEND_SR', vm]);

    await call('VM.set_suspend_SR', vm, nfs);
    await call('VM.suspend', vm);
    const image = rec(rec(vm).suspend_VDI);
    expect([image.SR, image.name_label, image.type, image.virtual_size]).toEqual([nfs, 'Suspend image', 'suspend', size]);
    // Fully inflated even on a thin SR (sm_config initial_allocation).
    expect(image.physical_utilisation).toBe(size);
    await call('VM.resume', vm, false, false);
    sim.db.set(host, 'suspend_image_sr', local);
    await call('pool.set_suspend_image_SR', sim.poolRef, nfs);
    await call('VM.hard_shutdown', vm);
  });

  it('a suspend SR too small for the image fails SR_SUSPEND_SPACE_INSUFFICIENT', async () => {
    // xen-api ocaml/xapi/xapi_xenops.ml suspend: SR_BACKEND_FAILURE_44 from VDI.create becomes
    // sr_suspend_space_insufficient [sr].
    const vm = await install('sleeper2');
    await call('VM.start_on', vm, sim.hostRefs[0], false, false);
    const small = await call('SR.create', sim.hostRefs[0], { device: '/dev/sdy' }, GiB, 'small-lvm', '', 'lvm', 'user', false, {});
    await call('VM.set_suspend_SR', vm, small);
    expect(await err('VM.suspend', vm)).toEqual(['SR_SUSPEND_SPACE_INSUFFICIENT', small]);
    await call('VM.hard_shutdown', vm);
  });
});

describe('clone and copy', () => {
  it('new VBDs keep userdevice, device, bootable, mode, unpluggable and QoS, and own their disks', async () => {
    // xen-api ocaml/xapi/xapi_vbd_helpers.ml copy (fields carried over) and ocaml/xapi/xapi_vm_clone.ml clone
    // (CA-58405: owner="" added to Disk VBDs; VIF MACs kept only for snapshots, xapi_vif_helpers.ml copy).
    const vm = await install('source');
    const vbd = rec(vm).VBDs[0];
    sim.db.update(vbd, { device: 'xvda', qos_algorithm_type: 'ionice', qos_algorithm_params: { sched: 'idle' }, other_config: {} });
    const vif = await call('VIF.create', vifRecord(vm, '0'));
    const clone = await call('VM.clone', vm, 'source-clone');
    const c = rec(rec(clone).VBDs[0]);
    expect([c.userdevice, c.device, c.bootable, c.mode, c.unpluggable, c.qos_algorithm_type, c.qos_algorithm_params, c.other_config]).toEqual([
      '0', 'xvda', true, 'RW', rec(vbd).unpluggable, 'ionice', { sched: 'idle' }, { owner: '' },
    ]);
    expect(c.VDI).not.toBe(rec(vbd).VDI);
    expect(rec(rec(clone).VIFs[0]).MAC).not.toBe(rec(vif).MAC);
    const snap = await call('VM.snapshot', vm, 'source-snap');
    expect(rec(rec(snap).VIFs[0]).MAC).toBe(rec(vif).MAC);
  });
});

describe('memory', () => {
  it('memory_overhead follows XAPI\'s HVM model; a VM that does not fit is refused with [needed, available]', async () => {
    // xen-api ocaml/xapi-idl/memory/memory.ml Memory_model.overhead_mib (HVM: 1 + 1 + shadow + vCPU pages) and
    // ocaml/xapi/xapi_vm_helpers.ml assert_enough_memory_available: needed = dynamic_min + overhead,
    // available = host_compute_free_memory_with_maximum_compression (ocaml/xapi/memory_check.ml).
    const vm = await install('memhog');
    // 2 GiB, 1 vCPU: shadow = ceil((256 + 2 * 2048) / 256) = 17 MiB; + 1 + 1 + ceil(38 / 256) = 20 MiB.
    expect(rec(vm).memory_overhead).toBe(20 * MiB);
    expect(await call('VM.compute_memory_overhead', vm)).toBe(20 * MiB);
    const host = sim.hostRefs[2]!;
    const available = Number(await call('host.compute_free_memory', host));
    await call('VM.set_memory_limits', vm, GiB, 200 * GiB, 100 * GiB, 200 * GiB);
    const overhead = rec(vm).memory_overhead;
    expect(await err('VM.start_on', vm, host, false, false)).toEqual(['HOST_NOT_ENOUGH_FREE_MEMORY', String(100 * GiB + overhead), String(available)]);
  });

  it('compute_free_memory counts dynamic_min; host_metrics.memory_free what domains hold now', async () => {
    // xen-api ocaml/xapi/xapi_host.ml compute_free_memory -> Memory_check ... Dynamic_min ("consider ballooning");
    // memory_check.ml vm_compute_used_memory adds vM_memory_overhead. memory_free is Xen's figure (host_metrics).
    const host = sim.hostRefs[1]!;
    const vm = await install('balloon');
    await call('VM.set_memory_dynamic_range', vm, GiB, 2 * GiB);
    const computeBefore = Number(await call('host.compute_free_memory', host));
    const reportedBefore = rec(rec(host).metrics).memory_free;
    await call('VM.start_on', vm, host, false, false);
    const overhead = rec(vm).memory_overhead;
    expect(Number(await call('host.compute_free_memory', host))).toBe(computeBefore - GiB - overhead);
    expect(rec(rec(host).metrics).memory_free).toBe(reportedBefore - 2 * GiB - overhead);
    await call('VM.hard_shutdown', vm);
    expect(Number(await call('host.compute_free_memory', host))).toBe(computeBefore);
    expect(rec(rec(host).metrics).memory_free).toBe(reportedBefore);
  });
});
