import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../../src/model/desired.js';
import { planChanges, specDigest, type PlanOptions } from '../../src/plan/index.js';
import {
  GiB, MiB, addNfsSR, addVM, addVlanNetwork, appliance, basePool, desiredState, host, live, manifestRef, mark, network,
  policy, poolManifest, sr, vm, type Base,
} from './world.js';
import { summarize } from './summary.js';

interface Case {
  why: string;
  /** Builds the observed pool (starting from the base pool) and the manifests. */
  given: (b: Base) => DesiredState;
  opts?: PlanOptions;
  actions: string[];
  refused?: string[];
  diagnostics?: string[];
}

const disk = (name: string, size: number, srName?: string) => ({ name, size, sr: srName ? live(srName) : undefined });
const eth0 = 'Pool-wide network associated with eth0';

const cases: Case[] = [
  // ---- VM: create and ownership ----
  {
    why: 'a VM with no object in the pool is created (its start is part of the create)',
    given: () => desiredState({ vms: [vm('web01', { disks: [disk('root', 10 * GiB)] })] }),
    actions: ['create:VM/web01 none'],
  },
  {
    why: "the seed's unmanaged VMs (no mark, no manifest) never appear in a plan, even with prune on",
    given: (b) => {
      addVM(b, { name: 'legacy-web01', address: null, disks: [{ name: 'root', size: GiB, sr: b.nfs, owned: false }] });
      addVM(b, { name: 'backup-appliance', address: null, power: 'Halted' });
      return desiredState({});
    },
    opts: { prune: true },
    actions: [],
  },
  {
    why: "an unmanaged VM with the manifest's name is a conflict, not silently taken over",
    given: (b) => {
      addVM(b, { name: 'web01', address: null });
      return desiredState({ vms: [vm('web01')] });
    },
    actions: [],
    diagnostics: ['error conflict VM/web01'],
  },
  {
    why: 'with adoption allowed by policy, the unmanaged VM is adopted, then updated to match',
    given: (b) => {
      addVM(b, { name: 'web01', address: null, vcpus: 2, vcpusMax: 4 });
      return desiredState({ vms: [vm('web01', { vcpus: 4, vcpusMax: 4 })], policies: [policy({ adopt: true })] });
    },
    actions: ['adopt:VM/web01 none', 'update:VM/web01 none [spec.vcpus]'],
  },
  {
    why: 'an object marked by another repository is never touched',
    given: (b) => {
      addVM(b, { name: 'web01', repo: 'git@example.com:other.git', vcpus: 1 });
      return desiredState({ vms: [vm('web01')] });
    },
    opts: { repo: 'git@example.com:infra.git' },
    actions: [],
    diagnostics: ['error foreign-owner VM/web01'],
  },
  {
    why: 'a managed VM whose manifest was removed is only reported while prune is off',
    given: (b) => {
      addVM(b, { name: 'old01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] });
      return desiredState({});
    },
    actions: [],
    diagnostics: ['warning would-prune VM/old01'],
  },
  {
    why: 'with prune on, deleting a managed VM destroys the disks xops made: destructive',
    given: (b) => {
      addVM(b, { name: 'old01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] });
      return desiredState({});
    },
    opts: { prune: true },
    actions: ['delete:VM/old01 destructive'],
  },
  {
    why: 'a pruned VM without disks of its own only costs downtime',
    given: (b) => {
      addVM(b, { name: 'old01' });
      return desiredState({ policies: [policy({ prune: true })] });
    },
    actions: ['delete:VM/old01 downtime'],
  },
  // ---- VM: memory and VCPUs (PROTOCOL §11) ----
  {
    why: 'memory within [static_min, static_max] is changed live',
    given: (b) => {
      addVM(b, { name: 'web01', memory: 2 * GiB, memoryMax: 4 * GiB });
      return desiredState({ vms: [vm('web01', { memory: 3 * GiB, memoryMax: 4 * GiB })] });
    },
    actions: ['update:VM/web01 none [spec.memory]'],
  },
  {
    why: 'memory above static_max needs the VM halted: a reboot for a running VM',
    given: (b) => {
      addVM(b, { name: 'web01', memory: 2 * GiB });
      return desiredState({ vms: [vm('web01', { memory: 4 * GiB })] });
    },
    actions: ['update:VM/web01 reboot [spec.memoryMax, spec.memory]'],
  },
  {
    why: 'the same memory change on a halted VM costs nothing',
    given: (b) => {
      addVM(b, { name: 'web01', memory: 2 * GiB, power: 'Halted' });
      return desiredState({ vms: [vm('web01', { memory: 4 * GiB, powerState: 'halted' })] });
    },
    actions: ['update:VM/web01 none [spec.memoryMax, spec.memory]'],
  },
  {
    why: 'when the manifest also halts the VM, the halt runs first (downtime) and the change needs no reboot',
    given: (b) => {
      addVM(b, { name: 'web01', memory: 2 * GiB });
      return desiredState({ vms: [vm('web01', { memory: 4 * GiB, powerState: 'halted' })] });
    },
    actions: ['power:VM/web01 downtime [spec.powerState]', 'update:VM/web01 none [spec.memoryMax, spec.memory]'],
  },
  {
    why: 'VCPUs up to VCPUs_max are hot-plugged',
    given: (b) => {
      addVM(b, { name: 'web01', vcpus: 2, vcpusMax: 8 });
      return desiredState({ vms: [vm('web01', { vcpus: 6, vcpusMax: 8 })] });
    },
    actions: ['update:VM/web01 none [spec.vcpus]'],
  },
  {
    why: 'VCPUs beyond VCPUs_max need the VM halted',
    given: (b) => {
      addVM(b, { name: 'web01', vcpus: 2 });
      return desiredState({ vms: [vm('web01', { vcpus: 4 })] });
    },
    actions: ['update:VM/web01 reboot [spec.vcpusMax, spec.vcpus]'],
  },
  // ---- VM: disks ----
  {
    why: 'a new disk is hot-plugged',
    given: (b) => {
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: 10 * GiB, sr: b.nfs }] });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', 10 * GiB), disk('data', 50 * GiB)] })] });
    },
    actions: ['update:VM/web01 none [spec.disks[data]]'],
  },
  {
    why: "growing a disk on an SR whose driver cannot resize online needs the VM halted",
    given: (b) => {
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: 10 * GiB, sr: b.nfs }] });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', 20 * GiB)] })] });
    },
    actions: ['update:VM/web01 reboot [spec.disks[root].size]'],
  },
  {
    why: 'growing a disk on an SR that allows vdi_resize_online is live',
    given: (b) => {
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: 10 * GiB, sr: b.local }] });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', 20 * GiB, 'Local storage on xcp-host1')] })] });
    },
    actions: ['update:VM/web01 none [spec.disks[root].size]'],
  },
  {
    why: 'shrinking a disk would lose data: refused, never planned',
    given: (b) => {
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: 20 * GiB, sr: b.nfs }] });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', 10 * GiB)] })] });
    },
    actions: [],
    refused: ['VM/web01 spec.disks[root].size'],
  },
  {
    why: 'a disk removed from the manifest is only reported while prune is off (its data would be lost)',
    given: (b) => {
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }, { name: 'data', size: GiB, sr: b.nfs }] });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB)] })] });
    },
    actions: [],
    diagnostics: ['warning would-prune VM/web01'],
  },
  {
    why: 'with prune on, a removed disk is its own destructive action, so policies can gate it alone',
    given: (b) => {
      addVM(b, { name: 'web01', vcpus: 2, vcpusMax: 4, disks: [{ name: 'root', size: GiB, sr: b.nfs }, { name: 'data', size: GiB, sr: b.nfs }] });
      return desiredState({ vms: [vm('web01', { vcpus: 3, vcpusMax: 4, disks: [disk('root', GiB)] })] });
    },
    opts: { prune: true },
    actions: ['update:VM/web01 none [spec.vcpus]', 'delete:VM/web01:disk/data destructive [spec.disks[data]]'],
  },
  {
    why: 'a disk xops did not make (no xops.disk mark, unknown name) is left alone',
    given: (b) => {
      const ref = addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] });
      addVM(b, { name: 'tmp', address: null, disks: [{ name: 'scratch', size: GiB, sr: b.nfs, owned: false }] });
      void ref;
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB)] })] });
    },
    opts: { prune: true },
    actions: [],
  },
  {
    why: 'moving a disk to another SR is refused rather than guessed',
    given: (b) => {
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] });
      return desiredState({ vms: [vm('web01', { disks: [disk('root', GiB, 'Local storage on xcp-host1')] })] });
    },
    actions: [],
    refused: ['VM/web01 spec.disks[root].sr'],
  },
  // ---- VM: VIFs ----
  {
    why: "a VIF's network change is a live VIF.move",
    given: (b) => {
      addVlanNetwork(b, 'lan', 10);
      addVM(b, { name: 'web01', vifs: [{ network: b.eth0 }] });
      return desiredState({ networks: [network('lan', { vlan: { tag: 10, device: 'eth0' } })], vms: [vm('web01', { networks: [{ network: manifestRef('lan') }] })] });
    },
    actions: ['update:VM/web01 none [spec.networks[0].network]'],
  },
  {
    why: 'new VIFs are hot-plugged and removed ones hot-unplugged (no data is lost)',
    given: (b) => {
      const lan = addVlanNetwork(b, 'lan', 10);
      addVM(b, { name: 'web01', vifs: [{ network: b.eth0 }, { network: lan }] });
      addVM(b, { name: 'web02', vifs: [] });
      return desiredState({
        networks: [network('lan', { vlan: { tag: 10, device: 'eth0' } })],
        vms: [vm('web01', { networks: [{ network: live(eth0) }] }), vm('web02', { networks: [{ network: live(eth0) }] })],
      });
    },
    actions: ['update:VM/web01 none [spec.networks[1]]', 'update:VM/web02 none [spec.networks[0]]'],
  },
  // ---- VM: template, affinity, power ----
  {
    why: 'a changed template means a new VM: destructive when the old one has disks',
    given: (b) => {
      addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.nfs }] });
      return desiredState({ vms: [vm('web01', { template: live('Rocky Linux 9'), disks: [disk('root', GiB)] })] });
    },
    actions: ['replace:VM/web01 destructive [spec.template]'],
  },
  {
    why: 'a changed template on a halted VM without disks loses nothing',
    given: (b) => {
      addVM(b, { name: 'web01', power: 'Halted' });
      return desiredState({ vms: [vm('web01', { template: live('Rocky Linux 9'), powerState: 'halted' })] });
    },
    actions: ['replace:VM/web01 none [spec.template]'],
  },
  {
    why: 'a new affinity is metadata only, unless the VM asks for a live migration',
    given: (b) => {
      addVM(b, { name: 'web01' });
      return desiredState({ vms: [vm('web01', { host: live('xcp-host2') })] });
    },
    actions: ['update:VM/web01 none [spec.host]'],
  },
  {
    why: 'with the migrate-on-affinity annotation, a running VM away from its affinity host is live-migrated',
    given: (b) => {
      addVM(b, { name: 'web01' });
      return desiredState({ vms: [vm('web01', { host: live('xcp-host2') }, { annotations: { 'xops.io/migrate-on-affinity': 'true' } })] });
    },
    actions: ['update:VM/web01 none [spec.host]', 'migrate:VM/web01 none [status.residentOn]'],
  },
  {
    why: 'starting a halted VM costs nothing',
    given: (b) => {
      addVM(b, { name: 'web01', power: 'Halted' });
      return desiredState({ vms: [vm('web01')] });
    },
    actions: ['power:VM/web01 none [spec.powerState]'],
  },
  {
    why: 'suspending or pausing stops the workload: downtime',
    given: (b) => {
      addVM(b, { name: 'a' });
      addVM(b, { name: 'b' });
      return desiredState({ vms: [vm('a', { powerState: 'suspended' }), vm('b', { powerState: 'paused' })] });
    },
    actions: ['power:VM/a downtime [spec.powerState]', 'power:VM/b downtime [spec.powerState]'],
  },
  {
    why: 'resuming a suspended VM is free',
    given: (b) => {
      addVM(b, { name: 'web01', power: 'Suspended' });
      return desiredState({ vms: [vm('web01')] });
    },
    actions: ['power:VM/web01 none [spec.powerState]'],
  },
  // ---- VM: what is compared ----
  {
    why: 'undeclared other_config keys, tags set by others and metrics never show as drift',
    given: (b) => {
      addVM(b, { name: 'web01', otherConfig: { 'XenCenter.CustomFields.owner': 'ops', mac_seed: 'x' }, tags: ['from-xo'] });
      return desiredState({ vms: [vm('web01', { otherConfig: {} })] });
    },
    actions: [],
  },
  {
    why: 'declared other_config keys and tags are compared',
    given: (b) => {
      addVM(b, { name: 'web01', otherConfig: { role: 'db' }, tags: ['a'] });
      return desiredState({ vms: [vm('web01', { otherConfig: { role: 'web' }, tags: ['a', 'b'] })] });
    },
    actions: ['update:VM/web01 none [spec.tags, spec.otherConfig.role]'],
  },
  {
    why: 'a live reference that does not exist in the pool is an error, and its VM is not planned',
    given: () => desiredState({ vms: [vm('web01', { template: live('Windows 3.11') })] }),
    actions: [],
    diagnostics: ['error dangling-ref VM/web01'],
  },
  // ---- Network ----
  {
    why: 'a network (with its VLAN) is created before the VM that uses it, which depends on it',
    given: () => desiredState({
      networks: [network('lan', { vlan: { tag: 20, device: 'eth1' } })],
      vms: [vm('web01', { networks: [{ network: manifestRef('lan') }] }), vm('web02')],
    }),
    actions: ['create:Network/lan none', 'create:VM/web01 none', 'create:VM/web02 none'],
  },
  {
    why: 'a changed VLAN tag re-creates the VLAN PIFs: downtime on that network',
    given: (b) => {
      addVlanNetwork(b, 'lan', 10);
      return desiredState({ networks: [network('lan', { vlan: { tag: 11, device: 'eth0' } })] });
    },
    actions: ['replace:Network/lan:vlan downtime [spec.vlan.tag]'],
  },
  {
    // An apply killed between network.create (which writes the mark) and VLAN.create leaves this.
    // Adding the VLAN tears nothing down: xen-api ocaml/xapi/xapi_vlan.ml `create` makes the
    // network's untagged PIF on the host and plugs it; only `destroy` unplugs and detaches. So a
    // policy gating downtime must not hold it (and every VM waiting on the network) back.
    why: 'a managed network no VLAN carries yet gets its VLAN: none, nothing stops',
    given: (b) => {
      b.world.add('network', { name_label: 'lan', name_description: '', MTU: 1500, bridge: 'xapi7', PIFs: [], VIFs: [], tags: [], other_config: mark('Network/lan') });
      return desiredState({ networks: [network('lan', { vlan: { tag: 10, device: 'eth0' } })] });
    },
    actions: ['replace:Network/lan:vlan none [spec.vlan.tag, spec.vlan.device]'],
  },
  {
    why: 'MTU and description are network setters: none',
    given: (b) => {
      addVlanNetwork(b, 'lan', 10);
      return desiredState({ networks: [network('lan', { vlan: { tag: 10, device: 'eth0' }, mtu: 9000, description: 'lan' })] });
    },
    actions: ['update:Network/lan none [spec.description, spec.mtu]'],
  },
  {
    why: 'deleting a managed network (prune on) cuts VMs off it: destructive, after the VMs leave it',
    given: (b) => {
      const lan = addVlanNetwork(b, 'lan', 10);
      addVM(b, { name: 'web01', vifs: [{ network: lan }] });
      return desiredState({ vms: [vm('web01', { networks: [{ network: live(eth0) }] })] });
    },
    opts: { prune: true },
    actions: ['update:VM/web01 none [spec.networks[0].network]', 'delete:Network/lan destructive'],
  },
  // ---- SR ----
  {
    why: 'a new SR is created before the VM whose disk is on it',
    given: () => desiredState({
      srs: [sr('fast', { deviceConfig: { server: 'nas', serverpath: '/fast' } })],
      vms: [vm('web01', { disks: [{ name: 'root', size: GiB, sr: manifestRef('fast') }] })],
    }),
    actions: ['create:SR/fast none', 'create:VM/web01 none'],
  },
  {
    why: "a changed device config re-creates the SR's PBDs (data kept): downtime",
    given: (b) => {
      addNfsSR(b, 'fast', { server: 'nas1', serverpath: '/fast' });
      return desiredState({ srs: [sr('fast', { deviceConfig: { server: 'nas2', serverpath: '/fast' } })] });
    },
    actions: ['replace:SR/fast:pbds downtime [spec.deviceConfig.server]'],
  },
  {
    why: 'secret device-config values are unknown at plan time and never compared (nor leaked)',
    given: (b) => {
      addNfsSR(b, 'fast', { server: 'nas1', password: 'hunter2' });
      return desiredState({ srs: [sr('fast', { deviceConfig: { server: 'nas1', password: { secretRef: { env: 'NAS_PW' } } } })] });
    },
    actions: [],
  },
  {
    why: 'a credential its PBDs hold as a XAPI secret (`password_secret`, how xops creates SMB SRs) is present: no change',
    given: (b) => {
      b.world.set('SR', addNfsSR(b, 'files', { server: '//nas/f', username: 'svc', password_secret: 'a-copy-per-pbd' }), { type: 'smb' });
      return desiredState({ srs: [sr('files', { type: 'smb', deviceConfig: { server: '//nas/f', username: 'svc', password: { secretRef: { env: 'F_PW' } } } })] });
    },
    actions: [],
  },
  {
    // xapi-project/sm libs/sm/cifutils.py getCIFCredentials reads `password_secret` when SMBSR mounts (attach), so
    // a new value set on the PBDs' secrets is used from the next plug on; nothing is detached now.
    why: 'a changed secret-backed credential (the digest xops stored differs) is set on the secrets in place: no disruption',
    given: (b) => {
      b.world.set('SR', addNfsSR(b, 'files', { server: '//nas/f', username: 'svc', password_secret: 'a-copy-per-pbd' }), { type: 'smb' });
      return desiredState({ srs: [sr('files', { type: 'smb', deviceConfig: { server: '//nas/f', username: 'svc', password: { secretRef: { env: 'F_PW' } } } })] });
    },
    opts: { changedCredentials: new Set(['SR/files#spec.deviceConfig.password']) },
    actions: ['update:SR/files none [spec.deviceConfig.password]'],
  },
  {
    why: 'a changed credential the PBDs hold in plain device_config (an NFS key, or an SR made before secrets) re-creates the PBDs: downtime',
    given: (b) => {
      addNfsSR(b, 'fast', { server: 'nas1', password: 'old' });
      return desiredState({ srs: [sr('fast', { deviceConfig: { server: 'nas1', password: { secretRef: { env: 'NAS_PW' } } } })] });
    },
    opts: { changedCredentials: new Set(['SR/fast#spec.deviceConfig.password']) },
    actions: ['replace:SR/fast:pbds downtime [spec.deviceConfig.password]'],
  },
  {
    why: 'an SR cannot change type: that would need a new SR and lose data, so it is refused',
    given: (b) => {
      addNfsSR(b, 'fast', { server: 'nas1' });
      return desiredState({ srs: [sr('fast', { type: 'smb', deviceConfig: { server: 'nas1' } })] });
    },
    actions: [],
    refused: ['SR/fast spec.type'],
  },
  {
    why: 'deleting a managed SR (prune on) loses its data: destructive',
    given: (b) => {
      addNfsSR(b, 'old', { server: 'nas1' });
      return desiredState({});
    },
    opts: { prune: true },
    actions: ['delete:SR/old destructive'],
  },
  // ---- Pool and Host ----
  {
    why: 'pool settings (default SR, HA) are live setters',
    given: () => desiredState({ pool: poolManifest({ defaultSR: live('Local storage on xcp-host1'), ha: { enabled: true } }) }),
    actions: ['update:Pool/demo none [spec.defaultSR, spec.ha.enabled]'],
  },
  {
    why: 'host settings are live setters; the host is matched by name',
    given: () => desiredState({ hosts: [host('xcp-host2', { description: 'rack 4' })] }),
    actions: ['update:Host/xcp-host2 none [spec.description]'],
  },
  {
    why: 'a Host manifest for a host the pool does not have is an error',
    given: () => desiredState({ hosts: [host('xcp-host9', { description: 'x' })] }),
    actions: [],
    diagnostics: ['error dangling-ref Host/xcp-host9'],
  },
  // ---- VMAppliance ----
  {
    why: 'an appliance is created after (and depending on) the VMs it groups',
    given: () => desiredState({
      vms: [vm('db'), vm('app')],
      appliances: [appliance('shop', [
        { vm: manifestRef('db'), startOrder: 0, startDelay: 30, shutdownDelay: 0 },
        { vm: manifestRef('app'), startOrder: 1, startDelay: 0, shutdownDelay: 0 },
      ])],
    }),
    actions: ['create:VM/db none', 'create:VM/app none', 'create:VMAppliance/shop none'],
  },
];

describe('planner rules (golden cases)', () => {
  it.each(cases)('$why', (c) => {
    const b = basePool();
    const desired = c.given(b);
    const plan = planChanges(desired, b.world.state, { now: new Date('2025-01-01T00:00:00Z'), ...c.opts });
    expect(summarize(plan)).toEqual({ actions: c.actions, refused: c.refused ?? [], diagnostics: c.diagnostics ?? [] });
  });
});
