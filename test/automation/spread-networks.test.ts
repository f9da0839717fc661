/**
 * An anti-affinity spread (and a host drain) moves a VM only to a host that has its networks, by
 * XAPI's rule (xen-api `ocaml/xapi/xapi_network_attach_helpers.ml`, `assert_can_see_named_networks`,
 * called through `xapi_vm_helpers.ml` `assert_can_see_networks` before a migration): a network with
 * PIFs is on the hosts of its PIFs; one without (a host-internal network) only where its running VMs
 * are, unless `other_config:assume_network_is_shared` is true. A spread the pool would refuse with
 * VM_REQUIRES_NETWORK is never planned (`npm run soak` saw one after a half-made VLAN network).
 */
import { describe, expect, it } from 'vitest';
import { applyFolder, failures, planFolder, simWithClient, scratch } from '../apply/helpers.js';
import { isXapiError } from '../../src/apply/xapi.js';
import { webGroup, webVM } from './group-fixtures.js';

const web = (name: string) => webVM(name, { networks: ['app-private'] });
const GROUP = webGroup('anti-affinity');

const { cleanup, folder } = scratch('xops-spread-net-');

describe('anti-affinity spread and the members\' networks', () => {
  it('keeps members together on a host-internal network, and spreads them once the network is taken as shared', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    // A network with no PIFs, made by hand: host-internal as far as XAPI is concerned.
    const net = await client.call<string>('network.create', { name_label: 'app-private', name_description: '', MTU: 1500, other_config: {} });
    const dir = await folder({ 'vms.yaml': [web('web1'), web('web2')].join('---\n'), 'group.yaml': GROUP });
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const hostOf = (name: string) => sim.db.byName('VM', name).rec.resident_on as string;
    // The second member could only start where the first one runs: the network is there alone.
    expect(hostOf('web2')).toBe(hostOf('web1'));
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
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const hostOf = (name: string) => sim.db.byName('VM', name).rec.resident_on as string;
    expect([hostOf('web1'), hostOf('web2')]).toEqual([first!.ref, first!.ref]);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });
});
