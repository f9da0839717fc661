/**
 * An anti-affinity spread (and a host drain) moves a VM only to a host that has its networks, by
 * XAPI's rule (xen-api `ocaml/xapi/xapi_network_attach_helpers.ml`, `assert_can_see_named_networks`,
 * called through `xapi_vm_helpers.ml` `assert_can_see_networks` before a migration): a network with
 * PIFs is on the hosts of its PIFs; one without (a host-internal network) only where its running VMs
 * are, unless `other_config:assume_network_is_shared` is true. A spread the pool would refuse with
 * VM_REQUIRES_NETWORK is never planned (`npm run soak` saw one after a half-made VLAN network), and
 * a new VM's planned host is one that has its networks (else the plan names a host XAPI refuses).
 */
import { describe, expect, it } from 'vitest';
import { applyFolder, failures, planFolder, simWithClient, scratch } from '../apply/helpers.js';
import { isXapiError } from '../../src/apply/xapi.js';
import { webGroup, webVM } from './group-fixtures.js';

const web = (name: string) => webVM(name, { networks: ['app-private'] });
const GROUP = webGroup('anti-affinity');

const { cleanup, folder } = scratch('xops-spread-net-');

describe("anti-affinity placement and the members' networks", () => {
  it('keeps members together on a host-internal network, and spreads them once the network is taken as shared', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    // A network with no PIFs, made by hand: host-internal as far as XAPI is concerned.
    const net = await client.call<string>('network.create', { name_label: 'app-private', name_description: '', MTU: 1500, other_config: {} });
    const dir = await folder({ 'vms.yaml': [web('web1'), web('web2')].join('---\n'), 'group.yaml': GROUP });
    // The second member can only start where the first one will run: the network will be there alone.
    // The plan says so, and says why the group cannot be honoured.
    const created = await planFolder(client, dir);
    const startOn = (name: string) => (created.plan.actions.find((a) => a.id === `create:VM/${name}`)!.details!['startOn'] as { name: string }).name;
    expect(startOn('web2')).toBe(startOn('web1'));
    expect(created.plan.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/^VM 'web2' starts on \S+ beside 1 other member\(s\) of anti-affinity group web-spread: its networks allow no other host \(network 'app-private' is on \S+ only\)/)]);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const hostOf = (name: string) => sim.db.byName('VM', name).rec.resident_on as string;
    const nameOf = (ref: string) => sim.db.record(ref).name_label;
    expect([nameOf(hostOf('web1')), nameOf(hostOf('web2'))]).toEqual([startOn('web1'), startOn('web1')]);
    const other = [...sim.db.all('host')].find((h) => h.ref !== hostOf('web1'))!.ref;
    const refused = await client.call('VM.pool_migrate', sim.db.byName('VM', 'web2').ref, other, { live: 'true' }).catch((e: unknown) => e);
    expect(isXapiError(refused, 'VM_REQUIRES_NETWORK')).toBe(true);
    // So no spread is planned: the pool would refuse every move.
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);

    await client.call('network.add_to_other_config', net, 'assume_network_is_shared', 'true');
    const { plan } = await planFolder(client, dir);
    expect(plan.actions.map((a) => a.id)).toEqual(['update:VMGroup/web-spread:spread']);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    expect(hostOf('web2')).not.toBe(hostOf('web1'));
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  it('does not move a member to a host where its network has no PIF', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    // A VLAN on one host's physical interface only: the network has a PIF there and nowhere else.
    const [first] = [...sim.db.all('host')];
    const pif = [...sim.db.all('PIF')].find((p) => p.rec.host === first!.ref && p.rec.physical === true)!;
    const net = await client.call<string>('network.create', { name_label: 'app-private', name_description: '', MTU: 1500, other_config: {} });
    await client.call('VLAN.create', pif.ref, '310', net);
    const dir = await folder({ 'vms.yaml': [web('web1'), web('web2')].join('---\n'), 'group.yaml': GROUP });
    const created = await planFolder(client, dir);
    expect(['web1', 'web2'].map((n) => (created.plan.actions.find((a) => a.id === `create:VM/${n}`)!.details!['startOn'] as { name: string }).name)).toEqual([first!.rec.name_label, first!.rec.name_label]);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const hostOf = (name: string) => sim.db.byName('VM', name).rec.resident_on as string;
    expect([hostOf('web1'), hostOf('web2')]).toEqual([first!.ref, first!.ref]);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  it('refuses a VM pinned to a host its network is not on, before anything is made', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const [first, second] = [...sim.db.all('host')];
    const pif = [...sim.db.all('PIF')].find((p) => p.rec.host === first!.ref && p.rec.physical === true)!;
    const net = await client.call<string>('network.create', { name_label: 'app-private', name_description: '', MTU: 1500, other_config: {} });
    await client.call('VLAN.create', pif.ref, '311', net);
    const pinned = webVM('web1', { networks: ['app-private'] }).replace('  powerState: running', `  host: ${second!.rec.name_label}\n  powerState: running`);
    const { plan } = await planFolder(client, await folder({ 'vm.yaml': pinned }));
    expect(plan.actions).toEqual([]);
    expect(plan.refused.map((r) => [r.address, r.path, r.reason])).toEqual([
      ['VM/web1', 'spec.host', `VM 'web1' cannot start on its host ${second!.rec.name_label}: network 'app-private' is on ${first!.rec.name_label} only (VM_REQUIRES_NETWORK)`],
    ]);
  });

  it('places the members of a plain network this plan creates where the first of them starts', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    // A plain Network manifest: no VLAN, no bond, so no PIF: host-internal once it exists.
    const network = 'apiVersion: xops/v1\nkind: Network\nmetadata: {name: app-private}\nspec:\n  mtu: 1500\n';
    const dir = await folder({ 'net.yaml': network, 'vms.yaml': [web('web1'), web('web2')].join('---\n'), 'group.yaml': GROUP });
    const { plan } = await planFolder(client, dir);
    const startOn = (name: string) => (plan.actions.find((a) => a.id === `create:VM/${name}`)!.details!['startOn'] as { name: string }).name;
    expect(startOn('web2')).toBe(startOn('web1'));
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const hostName = (vm: string) => sim.db.record(sim.db.byName('VM', vm).rec.resident_on as string).name_label;
    expect([hostName('web1'), hostName('web2')]).toEqual([startOn('web1'), startOn('web1')]);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });
});
