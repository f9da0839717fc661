/**
 * Group-aware placement at create, through the simulator. XAPI's rule (xapi-project/xen-api
 * `ocaml/xapi/xapi_vm_helpers.ml`, `rank_hosts_by_placement` and `rank_hosts_by_vm_cnt_in_group`): a member
 * of an anti-affinity group starts on the host that runs the fewest running members of its group (a member
 * being migrated counts on `scheduled_to_be_resident_on`), among the hosts that can take it; the rule is soft,
 * so when every host that fits already runs one, a host with members is still chosen.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyFolder, failures, planFolder, simWithClient, scratch } from '../apply/helpers.js';
import { webGroup, webVM } from './group-fixtures.js';
import { renderText } from '../../src/render/index.js';

const web = (name: string) => webVM(name, { diskSize: '2GiB' });
const GROUP = webGroup('anti-affinity');

const { cleanup, folder } = scratch('xops-placement-');

describe('anti-affinity placement at create', () => {
  it('starts three web VMs of an anti-affinity group on three hosts, says where in the plan, and migrates none', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const hosts = [...sim.db.all('host')].map((h) => String(h.rec.name_label));
    expect(hosts.length).toBeGreaterThanOrEqual(3);
    const dir = await folder({ 'vms.yaml': ['web1', 'web2', 'web3'].map(web).join('---\n'), 'group.yaml': GROUP });

    const { plan } = await planFolder(client, dir);
    const creates = plan.actions.filter((a) => a.kind === 'VM');
    const planned = creates.map((a) => (a.details?.['startOn'] as { name: string }).name);
    expect(new Set(planned).size).toBe(3);
    for (const a of creates) expect(a.reason).toMatch(/then running on \S+ \(anti-affinity group web-spread: no other member runs there\)/);
    expect(plan.diagnostics.filter((d) => d.code === 'anti-affinity')).toEqual([]);
    expect(renderText(plan, { color: false })).toContain(`then running on ${planned[0]} (anti-affinity group web-spread`);

    sim.stats.reset();
    const { result } = await applyFolder(client, dir);
    expect(failures(result)).toEqual([]);
    const residentOn = ['web1', 'web2', 'web3'].map((n) => sim.db.record(sim.db.byName('VM', n).rec.resident_on as string).name_label);
    expect(residentOn).toEqual(planned);
    // Started where they belong: the group's spread had nothing to move.
    expect(Object.keys(sim.stats.get() as object).filter((m) => /pool_migrate/.test(m))).toEqual([]);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  it('counts members already running, and warns when the pool cannot honour the group', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const hostCount = [...sim.db.all('host')].length;
    const names = Array.from({ length: hostCount + 1 }, (_, i) => `web${i + 1}`);
    // The first members run already; the rest are created by a later commit.
    const first = names.slice(0, hostCount - 1);
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': first.map(web).join('---\n'), 'group.yaml': GROUP }))).result)).toEqual([]);
    const busy = new Set(first.map((n) => sim.db.byName('VM', n).rec.resident_on as string));
    expect(busy.size).toBe(first.length);

    const { plan } = await planFolder(client, await folder({ 'vms.yaml': names.map(web).join('---\n'), 'group.yaml': GROUP }));
    const creates = plan.actions.filter((a) => a.kind === 'VM' && a.operation === 'create');
    expect(creates.map((a) => a.name)).toEqual(names.slice(hostCount - 1));
    // The one host without a member goes to the first new VM; the last one has to share, and the plan says so.
    const [fits, shares] = creates.map((a) => a.details?.['startOn'] as { uuid: string; name: string });
    expect(busy.has(sim.db.refByUuid('host', fits!.uuid)!)).toBe(false);
    expect(creates[1]!.reason).toContain('1 other member(s) already run there');
    expect(shares!.uuid).not.toBe(fits!.uuid);
    const warnings = plan.diagnostics.filter((d) => d.code === 'anti-affinity');
    expect(warnings.map((d) => [d.severity, d.address])).toEqual([['warning', `VM/${names.at(-1)}`]]);
    expect(warnings[0]!.message).toContain(`beside 1 other member(s) of anti-affinity group web-spread`);
  });
});
