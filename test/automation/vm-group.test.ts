/**
 * VMGroup end to end, and the simulator's VM_group rules: xapi-project/xen-api `ocaml/xapi/xapi_vm.ml`
 * `set_groups` (TOO_MANY_GROUPS, OPERATION_NOT_ALLOWED for templates), `ocaml/xapi/xapi_vm_group.ml` (destroy
 * takes the group off its VMs), `ocaml/xapi/xapi_vm_helpers.ml` `rank_hosts_by_vm_cnt_in_group` (a member
 * starts on the host running fewest members of its anti-affinity group).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyFolder, failures, planFolder, simWithClient, scratch } from '../apply/helpers.js';
import { webGroup, webVM } from './group-fixtures.js';

const web = (name: string) => webVM(name);
const group = webGroup;

const { cleanup, folder } = scratch('xops-group-');

describe('VMGroup', () => {
  it('three web VMs in an anti-affinity group end up on three hosts, with no VM stopped', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const dir = await folder({ 'vms.yaml': [web('web1'), web('web2'), web('web3')].join('---\n'), 'group.yaml': group('anti-affinity') });
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const g = sim.db.byName('VM_group', 'web-spread');
    expect(g.rec.placement).toBe('anti_affinity');
    expect((g.rec.VMs as string[]).map((r) => sim.db.record(r).name_label).sort()).toEqual(['web1', 'web2', 'web3']);

    // They started before they joined; once joined, apply moved them live onto three hosts, none stopped.
    const hostsOf = () => ['web1', 'web2', 'web3'].map((n) => sim.db.record(sim.db.byName('VM', n).rec.resident_on as string).name_label);
    expect(new Set(hostsOf()).size).toBe(3);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);

    // Someone moves web3 next to web1: drift, healed by a live migration listed in the plan.
    const web3 = sim.db.byName('VM', 'web3').ref;
    await client.call('VM.pool_migrate', web3, sim.db.byName('VM', 'web1').rec.resident_on, {});
    const { plan } = await planFolder(client, dir);
    expect(plan.actions.map((a) => [a.id, a.drift, a.disruption])).toEqual([['update:VMGroup/web-spread:spread', true, 'none']]);
    expect(plan.actions[0]!.changes).toHaveLength(1);
    expect(plan.actions[0]!.changes[0]!.path).toMatch(/^spec\.placement\.hosts\[web[13]\]$/);
    sim.stats.reset();
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    expect(new Set(hostsOf()).size).toBe(3);
    expect(Object.keys(sim.stats.get() as object).filter((m) => /VM\.(start|clean_shutdown|hard_shutdown)/.test(m))).toEqual([]);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);

    // A member started again lands where no other member runs (XAPI's ranking), with no help from xops.
    const web1 = sim.db.byName('VM', 'web1').ref;
    const before = sim.db.record(web1).resident_on;
    await client.call('VM.hard_shutdown', web1);
    await client.call('VM.start', web1, false, false);
    expect(sim.db.record(web1).resident_on).toBe(before);
  });

  it('a placement change recreates the group; prune destroys it and its VMs stay', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const vms = [web('web1'), web('web2')].join('---\n');
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': vms, 'group.yaml': group('normal') }))).result)).toEqual([]);
    const re = await applyFolder(client, await folder({ 'vms.yaml': vms, 'group.yaml': group('anti-affinity') }));
    expect(re.plan.actions.map((a) => a.id)).toEqual(['replace:VMGroup/web-spread']);
    expect(failures(re.result)).toEqual([]);
    expect(sim.db.byName('VM_group', 'web-spread').rec.placement).toBe('anti_affinity');
    expect((sim.db.byName('VM_group', 'web-spread').rec.VMs as string[])).toHaveLength(2);
    const gone = await applyFolder(client, await folder({ 'vms.yaml': vms, 'p.yaml': 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n  admission: []\n  automation: {prune: true}\n' }));
    expect(failures(gone.result)).toEqual([]);
    expect(sim.db.findByName('VM_group', 'web-spread')).toEqual([]);
    expect(sim.db.byName('VM', 'web1').rec.groups).toEqual([]);
    expect(sim.db.byName('VM', 'web1').rec.power_state).toBe('Running');
  });

  it('the simulator enforces set_groups rules', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const a = await client.call<string>('VM_group.create', { name_label: 'a', name_description: '', placement: 'anti_affinity' });
    const b = await client.call<string>('VM_group.create', { name_label: 'b', name_description: '', placement: 'normal' });
    const vm = sim.db.byName('VM', 'legacy-web01').ref;
    await expect(client.call('VM.set_groups', vm, [a, b])).rejects.toMatchObject({ code: 'TOO_MANY_GROUPS' });
    await expect(client.call('VM.set_groups', sim.db.byName('VM', 'Debian Bookworm 12').ref, [a])).rejects.toMatchObject({ code: 'OPERATION_NOT_ALLOWED' });
    await client.call('VM.set_groups', vm, [a]);
    expect(await client.call('VM_group.get_VMs', a)).toEqual([vm]);
    await client.call('VM_group.destroy', a);
    expect(await client.call('VM.get_groups', vm)).toEqual([]);
  });
});
