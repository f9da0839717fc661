/**
 * A drain keeps anti-affinity where capacity allows. Targets are chosen as XAPI ranks hosts for a member of an
 * anti-affinity group (xapi-project/xen-api `ocaml/xapi/xapi_vm_helpers.ml`, `host_to_vm_count_map` and
 * `rank_hosts_by_vm_cnt_in_group`: fewest running members first), within the evacuation rules of
 * `ocaml/xapi/xapi_host.ml` (`compute_evacuation_plan_no_wlb`).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyFolder, failures, planFolder, simWithClient, scratch } from '../apply/helpers.js';

const vm = (name: string, host: string, memory = '1GiB') => `apiVersion: xops/v1
kind: VM
metadata: {name: ${name}}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: ${memory}
  host: ${host}
  disks:
    - {name: root, size: 2GiB, sr: pool-nfs}
  powerState: running
`;
const group = (members: string[]) => `apiVersion: xops/v1
kind: VMGroup
metadata: {name: spread}
spec:
  placement: anti-affinity
  vms: [${members.join(', ')}]
`;
const drain = `apiVersion: xops/v1
kind: Host
metadata: {name: xcp-host2}
spec:
  name: xcp-host2
  maintenance: true
`;

const { cleanup, folder } = scratch('xops-drain-');

describe('drain and anti-affinity', () => {
  it('moves a group member to the host without a member even when another host has more free memory', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    // host1 runs web1 (a member); host3 runs a big VM outside the group, so host1 has the most free memory.
    const vms = [vm('web1', 'xcp-host1'), vm('web2', 'xcp-host2'), vm('tool2', 'xcp-host2', '512MiB'), vm('big3', 'xcp-host3', '4GiB')].join('---\n');
    const files = { 'vms.yaml': vms, 'group.yaml': group(['web1', 'web2']) };
    expect(failures((await applyFolder(client, await folder(files))).result)).toEqual([]);

    const dir = await folder({ ...files, 'host.yaml': drain });
    const { plan } = await planFolder(client, dir);
    const action = plan.actions.find((a) => a.id === 'update:Host/xcp-host2:maintenance')!;
    const to = Object.fromEntries(action.changes.filter((c) => c.path.startsWith('spec.maintenance.migrations')).map((c) => [c.path, c.to]));
    // tool2, outside the group, goes where memory is freest (host1); web2 avoids web1 and goes to host3.
    expect(to).toEqual({ 'spec.maintenance.migrations[web2]': 'xcp-host3', 'spec.maintenance.migrations[tool2]': 'xcp-host1' });

    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const hostOf = (n: string) => sim.db.record(sim.db.byName('VM', n).rec.resident_on as string).name_label;
    expect([hostOf('web1'), hostOf('web2'), hostOf('tool2')]).toEqual(['xcp-host1', 'xcp-host3', 'xcp-host1']);
    expect(sim.db.byName('VM', 'web2').rec.power_state).toBe('Running');
    // The group is still spread: nothing left to heal.
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  it('says so when a member has to share a host because every other host already runs one', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client } = env;
    const vms = [vm('a1', 'xcp-host1'), vm('a2', 'xcp-host2'), vm('a3', 'xcp-host3')].join('---\n');
    const files = { 'vms.yaml': vms, 'group.yaml': group(['a1', 'a2', 'a3']) };
    expect(failures((await applyFolder(client, await folder(files))).result)).toEqual([]);
    const { plan } = await planFolder(client, await folder({ ...files, 'host.yaml': drain }));
    const change = plan.actions.find((a) => a.id === 'update:Host/xcp-host2:maintenance')!.changes.find((c) => c.path === 'spec.maintenance.migrations[a2]')!;
    expect(change.reason).toBe('live migration: the VM keeps running; beside 1 other member(s) of anti-affinity group spread: no host without one has room');
  });
});
