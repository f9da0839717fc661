/**
 * Host maintenance from Git, end to end against the simulator, and the simulator's evacuation rules.
 * Evacuation follows xapi-project/xen-api `ocaml/xapi/xapi_host.ml` (`compute_evacuation_plan_no_wlb`: other
 * enabled hosts only, NO_HOSTS_AVAILABLE, VM_REQUIRES_SR from `assert_can_boot_here`, HOST_NOT_ENOUGH_FREE_MEMORY
 * for VMs the bin-pack could not place; `assert_can_evacuate`: CANNOT_EVACUATE_HOST ["code,params|..."]).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyFolder, failures, planFolder, simWithClient, scratch } from '../apply/helpers.js';

const vm = (name: string, host: string, sr = 'pool-nfs', memory = '2GiB') => `apiVersion: xops/v1
kind: VM
metadata: {name: ${name}}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: ${memory}
  host: ${host}
  disks:
    - {name: root, size: 5GiB, sr: ${sr}}
  powerState: running
`;
const host = (name: string, maintenance?: boolean) => `apiVersion: xops/v1
kind: Host
metadata: {name: ${name}}
spec:
  name: ${name}
${maintenance === undefined ? '' : `  maintenance: ${maintenance}\n`}`;

const { cleanup, folder } = scratch('xops-maint-');

describe('host maintenance', () => {
  it('drains host 2 with every migration listed and no VM stopping, then false enables it again', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const vms = [vm('web1', 'xcp-host2'), vm('web2', 'xcp-host2'), vm('web3', 'xcp-host2'), vm('db1', 'xcp-host1')].join('---\n');
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': vms }))).result)).toEqual([]);
    const host2 = sim.db.byName('host', 'xcp-host2');
    const onHost2 = () => (sim.db.record(host2.ref).resident_VMs as string[]).map((r) => sim.db.record(r)).filter((r) => !r.is_control_domain).map((r) => r.name_label).sort();
    expect(onHost2()).toEqual(['web1', 'web2', 'web3']);

    const drain = await folder({ 'vms.yaml': vms, 'host.yaml': host('xcp-host2', true) });
    const { plan } = await planFolder(client, drain);
    const action = plan.actions.find((a) => a.id === 'update:Host/xcp-host2:maintenance')!;
    expect(action.disruption).toBe('none');
    expect(action.changes.map((c) => c.path).sort()).toEqual([
      'spec.maintenance', 'spec.maintenance.migrations[web1]', 'spec.maintenance.migrations[web2]', 'spec.maintenance.migrations[web3]',
    ]);
    // Each goes to the other enabled host with the most free memory: hosts 1 and 3, never host 2.
    for (const c of action.changes.slice(1)) expect(['xcp-host1', 'xcp-host3']).toContain(c.to);

    sim.stats.reset();
    const applied = await applyFolder(client, drain);
    expect(failures(applied.result)).toEqual([]);
    expect(sim.db.record(host2.ref).enabled).toBe(false);
    expect(onHost2()).toEqual([]);
    // Zero downtime: every VM stayed Running; nothing was shut down or started, only live-migrated.
    for (const name of ['web1', 'web2', 'web3', 'db1']) expect(sim.db.byName('VM', name).rec.power_state).toBe('Running');
    const calls = sim.stats.get() as Record<string, number>;
    const stops = Object.entries(calls).filter(([m]) => /VM\.(start|clean_shutdown|hard_shutdown|shutdown|clean_reboot|hard_reboot|suspend)/.test(m));
    expect(stops).toEqual([]);
    expect(Object.entries(calls).filter(([m]) => m.endsWith('VM.pool_migrate')).reduce((n, [, v]) => n + v, 0)).toBe(3);
    expect((await planFolder(client, drain)).plan.actions).toEqual([]);

    const back = await folder({ 'vms.yaml': vms, 'host.yaml': host('xcp-host2', false) });
    const restore = await applyFolder(client, back);
    expect(restore.plan.actions.map((a) => a.id)).toEqual(['update:Host/xcp-host2:maintenance']);
    expect(failures(restore.result)).toEqual([]);
    expect(sim.db.record(host2.ref).enabled).toBe(true);
    expect((await planFolder(client, back)).plan.actions).toEqual([]);
  });

  it('refuses a drain the pool cannot absorb, naming the VM and why, and changes nothing', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const vms = [vm('pinned', 'xcp-host3', 'Local storage on xcp-host3'), vm('big', 'xcp-host1', 'pool-nfs', '40GiB')].join('---\n');
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': vms }))).result)).toEqual([]);
    const { plan } = await planFolder(client, await folder({ 'vms.yaml': vms, 'host.yaml': host('xcp-host3', true) }));
    expect(plan.actions.filter((a) => a.address === 'Host/xcp-host3')).toEqual([]);
    expect(plan.refused.map((r) => `${r.path}: ${r.reason}`)).toEqual([
      "spec.maintenance.migrations[pinned]: VM 'pinned' cannot leave xcp-host3: its disk on SR 'Local storage on xcp-host3' is not reachable from xcp-host1 (VM_REQUIRES_SR)",
    ]);
    expect(sim.db.byName('host', 'xcp-host3').rec.enabled).toBe(true);

    // Memory: with host 3 disabled, a 40 GiB VM cannot leave host 1 once host 2 is full too.
    await client.call('host.disable', sim.db.byName('host', 'xcp-host3').ref);
    const filler = vm('filler', 'xcp-host2', 'pool-nfs', '40GiB');
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': [vms, filler].join('---\n') }))).result)).toEqual([]);
    const mem = await planFolder(client, await folder({ 'vms.yaml': [vms, filler].join('---\n'), 'host.yaml': host('xcp-host1', true) }));
    expect(mem.plan.refused.map((r) => r.path)).toEqual(['spec.maintenance.migrations[big]']);
    expect(mem.plan.refused[0]!.reason).toMatch(/HOST_NOT_ENOUGH_FREE_MEMORY/);
  });

  it('refuses a drain whose VM is on a host-internal network, as XAPI would (VM_REQUIRES_NETWORK), until the network is taken as shared', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    // A network without PIFs: XAPI has it only on the host its running VMs are on (xen-api
    // ocaml/xapi/xapi_network_attach_helpers.ml, assert_can_see_named_networks).
    const net = await client.call<string>('network.create', { name_label: 'backend-private', name_description: '', MTU: 1500, other_config: {} });
    const onPrivate = vm('app', 'xcp-host2').replace('  powerState: running', '  networks:\n    - network: backend-private\n  powerState: running');
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': onPrivate }))).result)).toEqual([]);
    const drain = await folder({ 'vms.yaml': onPrivate, 'host.yaml': host('xcp-host2', true) });
    const { plan } = await planFolder(client, drain);
    expect(plan.actions.filter((a) => a.address === 'Host/xcp-host2')).toEqual([]);
    expect(plan.refused.map((r) => `${r.path}: ${r.reason}`)).toEqual([
      expect.stringMatching(/^spec\.maintenance\.migrations\[app\]: VM 'app' cannot leave xcp-host2: its network 'backend-private' is internal to the host its running VMs are on, .*\(VM_REQUIRES_NETWORK; other_config:assume_network_is_shared=true makes XAPI take it as shared\)$/),
    ]);
    await expect(client.call('host.evacuate', sim.db.byName('host', 'xcp-host2').ref)).rejects.toMatchObject({ code: 'VM_REQUIRES_NETWORK', params: [sim.db.byName('VM', 'app').ref, net] });

    await client.call('network.add_to_other_config', net, 'assume_network_is_shared', 'true');
    const shared = await planFolder(client, drain);
    expect(shared.plan.actions.map((a) => a.id)).toContain('update:Host/xcp-host2:maintenance');
    expect(failures((await applyFolder(client, drain)).result)).toEqual([]);
    expect(sim.db.byName('VM', 'app').rec.resident_on).not.toBe(sim.db.byName('host', 'xcp-host2').ref);
  });

  it('the simulator refuses host.evacuate as XAPI does', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': vm('pinned', 'xcp-host3', 'Local storage on xcp-host3') }))).result)).toEqual([]);
    const host3 = sim.db.byName('host', 'xcp-host3').ref;
    const pinned = sim.db.byName('VM', 'pinned').ref;
    const sr = sim.db.byName('SR', 'Local storage on xcp-host3').ref;
    await expect(client.call('host.evacuate', host3)).rejects.toMatchObject({ code: 'VM_REQUIRES_SR', params: [pinned, sr] });
    await expect(client.call('host.assert_can_evacuate', host3)).rejects.toMatchObject({ code: 'CANNOT_EVACUATE_HOST', params: [`VM_REQUIRES_SR,${pinned},${sr}`] });
    expect(await client.call('host.get_vms_which_prevent_evacuation', host3)).toEqual({ [pinned]: ['VM_REQUIRES_SR', pinned, sr] });
    for (const h of ['xcp-host1', 'xcp-host2']) await client.call('host.disable', sim.db.byName('host', h).ref);
    await expect(client.call('host.evacuate', host3)).rejects.toMatchObject({ code: 'NO_HOSTS_AVAILABLE', params: [pinned] });
    // A disabled host takes no new VM (xapi_vm_helpers.ml assert_can_boot_here: HOST_DISABLED).
    await expect(client.call('VM.pool_migrate', pinned, sim.db.byName('host', 'xcp-host1').ref, {})).rejects.toMatchObject({ code: 'HOST_DISABLED' });
  });
});
