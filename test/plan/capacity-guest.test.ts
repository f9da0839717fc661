/**
 * Golden cases for the guest-driver and capacity rows of docs/plan-rules.md, and for the reference
 * rules of issue 12 (a delete of an object a manifest still uses; a new default SR).
 *
 * XAPI facts pinned here:
 * - VBD.plug/unplug and VIF.plug/unplug on a running HVM guest without PV drivers fail with
 *   VM_MISSING_PV_DRIVERS; live vCPU/memory changes need the guest feature (VM_LACKS_FEATURE):
 *   xapi-project/xen-api ocaml/xapi/xapi_vm_lifecycle.ml (check_op_for_feature). A VM whose
 *   HVM_boot_policy is empty is PV: ocaml/xapi/xapi_vm_helpers.ml (derive_domain_type).
 * - VM.start needs the VM's memory free on the host (HOST_NOT_ENOUGH_FREE_MEMORY, host_metrics
 *   .memory_free) and no more vCPUs than the host has CPUs (HOST_NOT_ENOUGH_PCPUS):
 *   ocaml/xapi/xapi_vm_helpers.ml (assert_can_boot_here).
 * - LVM-based SRs preallocate a disk's whole size (xapi-project/sm drivers/LVHDSR.py
 *   _ensureSpaceAvailable); file-based ones (NFS, ext, SMB) store sparse VHD files (drivers/FileSR.py).
 */
import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../../src/model/desired.js';
import { NULL_REF, type Ref } from '../../src/model/observed.js';
import type { Plan } from '../../src/model/plan.js';
import { planChanges, type PlanOptions } from '../../src/plan/index.js';
import { placeVM, diskShortfall, type HostRoom } from '../../src/kinds/vm/capacity.js';
import { guestAbilities } from '../../src/kinds/vm/guest.js';
import { GiB, addNfsSR, addVM, addVlanNetwork, basePool, desiredState, live, network, poolManifest, vm, type Base } from './world.js';
import { summarize } from './summary.js';

const eth0 = 'Pool-wide network associated with eth0';

/** Gives the base pool's hosts memory figures and CPU counts, as a real pool reports them. */
function withHostRoom(b: Base, free: [number, number], cpus = 16): void {
  b.hosts.forEach((h, i) => {
    const metrics = b.world.add('host_metrics', { memory_total: 64 * GiB, memory_free: free[i]! });
    b.world.set('host', h, { metrics, cpu_info: { cpu_count: String(cpus) } });
  });
}

/** Makes an SR report its size: thick LVM counts virtual_allocation, thin NFS physical_utilisation. */
function withSize(b: Base, sr: Ref, size: number, used: number): void {
  b.world.set('SR', sr, { physical_size: size, physical_utilisation: used, virtual_allocation: used });
}

/** A running HVM guest, with PV drivers or without (no VM_guest_metrics: no agent). */
function hvm(b: Base, vmRef: Ref, drivers: boolean | { vbd: 'yes' | 'no' | 'unspecified' }): void {
  let guest_metrics = 'OpaqueRef:NULL';
  if (drivers !== false) {
    const hotplug = drivers === true ? 'unspecified' : drivers.vbd;
    guest_metrics = b.world.add('VM_guest_metrics', { PV_drivers_detected: true, can_use_hotplug_vbd: hotplug, can_use_hotplug_vif: 'unspecified' });
  }
  b.world.set('VM', vmRef, { domain_type: 'hvm', HVM_boot_policy: 'BIOS order', guest_metrics });
}

interface Case {
  why: string;
  given: (b: Base) => DesiredState;
  opts?: PlanOptions;
  actions: string[];
  refused?: string[];
  diagnostics?: string[];
  /** Every refusal's reason matches these, in order. */
  reasons?: RegExp[];
  /** More to check on the plan. */
  check?: (plan: Plan) => void;
}

const disk = (name: string, size: number, srName?: string) => ({ name, size, sr: srName ? live(srName) : undefined });
const LOCAL = 'Local storage on xcp-host1';

const cases: Case[] = [
  // ---- guest drivers ----
  {
    why: 'a disk added to a running HVM guest without PV drivers costs a reboot (apply halts, attaches, starts)',
    given: (b) => {
      hvm(b, addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] }), false);
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB), disk('data', GiB)] })] });
    },
    actions: ['update:VM/web01 reboot [spec.disks[data]]'],
  },
  {
    why: 'the same disk is hot-plugged when the guest runs PV drivers',
    given: (b) => {
      hvm(b, addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] }), true);
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB), disk('data', GiB)] })] });
    },
    actions: ['update:VM/web01 none [spec.disks[data]]'],
  },
  {
    why: 'drivers that say they cannot hot-plug disks (can_use_hotplug_vbd = no) cost a reboot too',
    given: (b) => {
      hvm(b, addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] }), { vbd: 'no' });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB), disk('data', GiB)] })] });
    },
    actions: ['update:VM/web01 reboot [spec.disks[data]]'],
  },
  {
    why: 'a PV guest needs no drivers reported: its kernel is paravirtualised',
    given: (b) => {
      const ref = addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] });
      b.world.set('VM', ref, { domain_type: 'pv', HVM_boot_policy: '' });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB), disk('data', GiB)] })] });
    },
    actions: ['update:VM/web01 none [spec.disks[data]]'],
  },
  {
    why: 'a VIF added to (or removed from) a driverless running HVM guest costs a reboot',
    given: (b) => {
      hvm(b, addVM(b, { name: 'web01', vifs: [{ network: b.eth0 }] }), false);
      return desiredState({ vms: [vm('web01', { networks: [{ network: live(eth0) }, { network: live(eth0) }] })] });
    },
    actions: ['update:VM/web01 reboot [spec.networks[1]]'],
  },
  {
    why: 'live vCPU changes need the guest feature: a driverless HVM guest is rebooted for them',
    given: (b) => {
      hvm(b, addVM(b, { name: 'web01', vcpus: 2, vcpusMax: 4 }), false);
      return desiredState({ vms: [vm('web01', { vcpus: 4, vcpusMax: 4 })] });
    },
    actions: ['update:VM/web01 reboot [spec.vcpus]'],
  },
  {
    why: "removing a disk from a driverless running HVM guest tells apply to halt it first (details.restart)",
    given: (b) => {
      hvm(b, addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }, { name: 'data', size: GiB, sr: b.nfs }] }), false);
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB)] })] });
    },
    opts: { prune: true },
    actions: ['delete:VM/web01:disk/data destructive [spec.disks[data]]'],
    check: (plan) => expect(plan.actions[0]!.details).toMatchObject({ disk: 'data', restart: true }),
  },
  {
    why: 'a halted driverless guest gets its new disk attached with no disruption',
    given: (b) => {
      hvm(b, addVM(b, { name: 'web01', power: 'Halted', disks: [{ name: 'root', size: GiB, sr: b.nfs }] }), false);
      return desiredState({ vms: [vm('web01', { powerState: 'halted', disks: [disk('root', GiB), disk('data', GiB)] })] });
    },
    actions: ['update:VM/web01 none [spec.disks[data]]'],
  },
  // ---- capacity: hosts ----
  {
    why: 'a new VM larger than any host is refused, with the largest free memory named; nothing is planned for it',
    given: (b) => {
      withHostRoom(b, [40 * GiB, 58 * GiB]);
      return desiredState({ vms: [vm('big', { memory: 100 * GiB })] });
    },
    actions: [],
    refused: ['VM/big spec.memory'],
    reasons: [/needs 100 GiB of memory and 2 vCPUs to start; the largest free host memory is 58 GiB on xcp-host2/],
  },
  {
    why: 'VMs this plan starts count against the host memory the next ones can use',
    given: (b) => {
      withHostRoom(b, [30 * GiB, 20 * GiB]);
      return desiredState({ vms: [vm('a', { memory: 24 * GiB }), vm('b', { memory: 16 * GiB }), vm('c', { memory: 16 * GiB })] });
    },
    actions: ['create:VM/a none', 'create:VM/b none'],
    refused: ['VM/c spec.memory'],
    reasons: [/largest free host memory is 6 GiB on xcp-host1/],
  },
  {
    why: 'a VM pinned to a host (spec.host) must fit that host, even when another has room',
    given: (b) => {
      withHostRoom(b, [8 * GiB, 58 * GiB]);
      return desiredState({ vms: [vm('pinned', { memory: 16 * GiB, host: live('xcp-host1') })] });
    },
    actions: [],
    refused: ['VM/pinned spec.memory'],
    reasons: [/on its host xcp-host1, but xcp-host1 has 8 GiB of memory free/],
  },
  {
    why: 'more vCPUs than any host has CPUs is refused',
    given: (b) => {
      withHostRoom(b, [58 * GiB, 58 * GiB], 8);
      return desiredState({ vms: [vm('wide', { vcpus: 12 })] });
    },
    actions: [],
    refused: ['VM/wide spec.vcpus'],
    reasons: [/the most physical CPUs on an enabled host is 8 on xcp-host1: lower spec.vcpus/],
  },
  {
    why: 'starting a halted VM that no host has room for is refused, with the rest of its changes',
    given: (b) => {
      withHostRoom(b, [2 * GiB, 3 * GiB]);
      addVM(b, { name: 'web01', power: 'Halted', memory: 4 * GiB, vcpus: 2, vcpusMax: 4 });
      return desiredState({ vms: [vm('web01', { memory: 4 * GiB, vcpus: 3, vcpusMax: 4 })] });
    },
    actions: [],
    refused: ['VM/web01 spec.memory'],
  },
  {
    why: 'a reboot-labelled update must find room to start the VM again (its own memory is given back first)',
    given: (b) => {
      withHostRoom(b, [1 * GiB, 2 * GiB]);
      addVM(b, { name: 'web01', memory: 4 * GiB, memoryMax: 4 * GiB });
      return desiredState({ vms: [vm('web01', { memory: 8 * GiB, memoryMax: 8 * GiB })] });
    },
    actions: [],
    refused: ['VM/web01 spec.memory'],
    reasons: [/needs 8 GiB of memory and 2 vCPUs to start; the largest free host memory is 5 GiB on xcp-host1/],
  },
  {
    why: 'the same restart fits when the memory it gives back is enough',
    given: (b) => {
      withHostRoom(b, [1 * GiB, 2 * GiB]);
      addVM(b, { name: 'web01', memory: 4 * GiB, memoryMax: 4 * GiB });
      return desiredState({ vms: [vm('web01', { memory: 5 * GiB, memoryMax: 5 * GiB })] });
    },
    actions: ['update:VM/web01 reboot [spec.memoryMax, spec.memory]'],
  },
  {
    // XAPI's assert_can_see_networks (xen-api ocaml/xapi/xapi_network_attach_helpers.ml): the VM starts
    // again only where its network is; apply would halt it and fail to start it elsewhere.
    why: 'a restart counts only the hosts that have the VM\'s networks: room on another host is no room',
    given: (b) => {
      withHostRoom(b, [1 * GiB, 58 * GiB]);
      const net = b.world.add('network', { name_label: 'host1-only', name_description: '', MTU: 1500, bridge: 'xapi9', PIFs: [], VIFs: [], tags: [], other_config: {} });
      const pif = b.world.add('PIF', { device: 'eth0', host: b.hosts[0], network: net, VLAN: 9, MAC: '', MTU: 1500, physical: false, management: false, currently_attached: true, VLAN_master_of: NULL_REF, VLAN_slave_of: [], bond_master_of: [], bond_slave_of: NULL_REF, other_config: {} });
      b.world.set('network', net, { PIFs: [pif] });
      addVM(b, { name: 'web01', memory: 4 * GiB, memoryMax: 4 * GiB, vifs: [{ network: net }] });
      return desiredState({ vms: [vm('web01', { memory: 8 * GiB, memoryMax: 8 * GiB, networks: [{ network: live('host1-only') }] })] });
    },
    actions: [],
    refused: ['VM/web01 spec.memory'],
    reasons: [/needs 8 GiB of memory and 2 vCPUs to start; the largest free host memory is 5 GiB on xcp-host1: .* \(no other host has its networks: network 'host1-only' is on xcp-host1 only\)$/],
  },
  {
    why: 'memory raised live must fit the host the VM runs on',
    given: (b) => {
      withHostRoom(b, [3 * GiB, 58 * GiB]);
      addVM(b, { name: 'web01', memory: 2 * GiB, memoryMax: 8 * GiB });
      return desiredState({ vms: [vm('web01', { memory: 6 * GiB, memoryMax: 8 * GiB })] });
    },
    actions: [],
    refused: ['VM/web01 spec.memory'],
    reasons: [/VM 'web01' needs 4 GiB more memory on xcp-host1, where it runs, but xcp-host1 has 3 GiB free/],
  },
  {
    why: 'a VM that stays halted needs no host',
    given: (b) => {
      withHostRoom(b, [2 * GiB, 3 * GiB]);
      return desiredState({ vms: [vm('cold', { memory: 100 * GiB, powerState: 'halted' })] });
    },
    actions: ['create:VM/cold none'],
  },
  // ---- capacity: HA ----
  {
    why: 'with HA on, starting a protected VM that failover could not restart after the tolerated host failures is refused',
    given: (b) => {
      withHostRoom(b, [60 * GiB, 60 * GiB]);
      b.world.set('pool', b.pool, { ha_enabled: true, ha_host_failures_to_tolerate: 1 });
      const db = addVM(b, { name: 'db', memory: 40 * GiB, address: null });
      b.world.set('VM', db, { ha_restart_priority: 'restart' });
      return desiredState({ vms: [vm('app', { memory: 30 * GiB, haRestartPriority: 'restart' }), vm('batch', { memory: 30 * GiB })] });
    },
    actions: ['create:VM/batch none'],
    refused: ['VM/app spec.haRestartPriority'],
    reasons: [/with HA tolerating 1 host failure\(s\), the protected VMs would need 70 GiB, but only 64 GiB is left once xcp-host\d fail/],
  },
  {
    why: 'HA that the Pool manifest turns off no longer limits starts',
    given: (b) => {
      withHostRoom(b, [60 * GiB, 60 * GiB]);
      b.world.set('pool', b.pool, { ha_enabled: true, ha_host_failures_to_tolerate: 1 });
      const db = addVM(b, { name: 'db', memory: 40 * GiB, address: null });
      b.world.set('VM', db, { ha_restart_priority: 'restart' });
      return desiredState({ pool: poolManifest({ ha: { enabled: false } }), vms: [vm('app', { memory: 30 * GiB, haRestartPriority: 'restart' })] });
    },
    actions: ['update:Pool/demo none [spec.ha.enabled]', 'create:VM/app none'],
  },
  // ---- capacity: SRs ----
  {
    why: 'a new disk larger than a thick SR has left is refused (its whole size counts)',
    given: (b) => {
      withSize(b, b.local, 500 * GiB, 450 * GiB);
      return desiredState({ vms: [vm('db', { disks: [disk('root', 10 * GiB, LOCAL), disk('data', 100 * GiB, LOCAL)] })] });
    },
    actions: [],
    refused: ['VM/db spec.disks[data]'],
    reasons: [/disk 'data' needs 100 GiB on SR 'Local storage on xcp-host1' \(a thick SR: disks take their whole size\), which has 40 GiB free after the 10 GiB this plan already puts there/],
  },
  {
    why: 'a thin SR counts what is written, not what is allocated',
    given: (b) => {
      b.world.set('SR', b.nfs, { physical_size: 200 * GiB, physical_utilisation: 50 * GiB, virtual_allocation: 900 * GiB });
      return desiredState({ vms: [vm('db', { disks: [disk('data', 100 * GiB)] })] });
    },
    actions: ['create:VM/db none'],
  },
  {
    why: 'growing a disk by more than its SR has free is refused',
    given: (b) => {
      withSize(b, b.local, 100 * GiB, 90 * GiB);
      addVM(b, { name: 'db', disks: [{ name: 'data', size: 50 * GiB, sr: b.local }] });
      return desiredState({ vms: [vm('db', { disks: [disk('data', 80 * GiB, LOCAL)] })] });
    },
    actions: [],
    refused: ['VM/db spec.disks[data]'],
    reasons: [/needs 30 GiB on SR/],
  },
  // ---- references ----
  {
    why: 'a new pool default SR leaves disks without their own sr where they are (no move refused)',
    given: (b) => {
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] });
      return desiredState({ pool: poolManifest({ defaultSR: live(LOCAL) }), vms: [vm('web01', { disks: [disk('root', GiB)] })] });
    },
    actions: ['update:Pool/demo none [spec.defaultSR]'],
  },
  {
    why: 'a managed network whose manifest was removed is not deleted while a VM manifest still uses it',
    given: (b) => {
      const lan = addVlanNetwork(b, 'lan', 10);
      addVM(b, { name: 'web01', vifs: [{ network: lan }] });
      return desiredState({ vms: [vm('web01', { networks: [{ network: live('lan') }] })] });
    },
    opts: { prune: true },
    actions: [],
    refused: ['Network/lan metadata.name'],
    reasons: [/its manifest was removed, but VM\/web01 \(vms\.yaml:1\) still uses it at spec\.networks\[0\]\.network: not deleted/],
  },
  {
    why: "a managed SR whose manifest was removed is not deleted while a declared VM's disk lives on it (even without its own sr)",
    given: (b) => {
      const fast = addNfsSR(b, 'fast', { server: 'nas', serverpath: '/fast' });
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: fast }] });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB)] })] });
    },
    opts: { prune: true },
    actions: [],
    refused: ['SR/fast metadata.name'],
    reasons: [/its manifest was removed, but VM\/web01 \(vms\.yaml:1\) still uses it at spec\.disks\[root\]: not deleted/],
  },
  {
    why: 'once no manifest uses it, the same network is deleted',
    given: (b) => {
      const lan = addVlanNetwork(b, 'lan', 10);
      addVM(b, { name: 'web01', vifs: [{ network: lan }] });
      return desiredState({ networks: [network('other', { vlan: { tag: 20, device: 'eth0' } })], vms: [vm('web01', { networks: [{ network: live(eth0) }] })] });
    },
    opts: { prune: true },
    actions: ['create:Network/other none', 'update:VM/web01 none [spec.networks[0].network]', 'delete:Network/lan destructive'],
  },
];

describe('guest-driver, capacity and reference rules (golden cases)', () => {
  it.each(cases)('$why', (c) => {
    const b = basePool();
    const desired = c.given(b);
    const plan = planChanges(desired, b.world.state, { now: new Date('2025-01-01T00:00:00Z'), ...c.opts });
    expect(summarize(plan)).toEqual({ actions: c.actions, refused: c.refused ?? [], diagnostics: c.diagnostics ?? [] });
    if (c.reasons) expect(plan.refused.map((r) => r.reason)).toEqual(c.reasons.map((r) => expect.stringMatching(r)));
    c.check?.(plan);
  });
});

describe('the re-check apply can run at execution', () => {
  const host = (name: string, freeMemory: number, cpus = 16, enabled = true): HostRoom => ({ ref: `OpaqueRef:${name}`, name, enabled, freeMemory, cpus });

  it('places a VM on the enabled host with the most free memory', () => {
    const placed = placeVM({ memory: 8 * GiB, vcpus: 2 }, [host('h1', 10 * GiB), host('h2', 30 * GiB), host('h3', 60 * GiB, 16, false)]);
    expect(placed).toEqual({ ok: true, host: expect.objectContaining({ name: 'h2' }) });
  });

  it('says when no host is enabled', () => {
    expect(placeVM({ memory: GiB, vcpus: 1 }, [host('h1', 10 * GiB, 16, false)])).toEqual({ ok: false, short: 'host', reason: expect.stringMatching(/no host is enabled/) });
  });

  it('never refuses on figures the snapshot lacks', () => {
    expect(placeVM({ memory: 1024 * GiB, vcpus: 64 }, [{ ref: 'r', name: 'h', enabled: true }]).ok).toBe(true);
    expect(diskShortfall({ uuid: 'u', name_label: 'iso', type: 'iso', physical_size: 0, physical_utilisation: 0 } as never, 10 * GiB)).toBeUndefined();
  });

  it('treats a dangling guest metrics record as no agent on an HVM guest', () => {
    const rec = { uuid: 'u', domain_type: 'hvm' } as never;
    expect(guestAbilities(rec, undefined)).toEqual({ hvm: true, pvDrivers: false, hotplugDisk: false, hotplugVif: false, liveSizing: false });
  });
});
