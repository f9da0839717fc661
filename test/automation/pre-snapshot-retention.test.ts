/**
 * Pre-change snapshots (`snapshotBefore`) with a retention: a Policy's `snapshotRetain: N` keeps the N newest
 * `xops-pre-*` snapshots of a VM; scheduled (VMSS) and hand-made snapshots are never touched.
 */
import { describe, expect, it } from 'vitest';
import { applyFolder, failures, simWithClient, scratch } from '../apply/helpers.js';

const GiB = 1024 ** 3;
const vm = (memory: string) => `apiVersion: xops/v1
kind: VM
metadata: {name: app1}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: ${memory}
  disks:
    - {name: root, size: 5GiB, sr: pool-nfs}
  powerState: running
`;
const POLICY = `apiVersion: xops/v1
kind: Policy
metadata: {name: snap}
spec:
  admission: []
  automation:
    snapshotBefore: [reboot]
    snapshotRetain: 2
`;

const { cleanup, folder } = scratch('xops-presnap-');

describe('snapshotRetain', () => {
  it('keeps only the newest pre-change snapshots, with their disks, and leaves other snapshots alone', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    expect(failures((await applyFolder(client, await folder({ 'vm.yaml': vm('1GiB'), 'p.yaml': POLICY }))).result)).toEqual([]);
    const ref = sim.db.byName('VM', 'app1').ref;
    await client.call('VM.snapshot', ref, 'by-hand', []);
    const disks = sim.db.count('VDI');
    for (const memory of ['2GiB', '3GiB', '4GiB']) {
      const { plan, result } = await applyFolder(client, await folder({ 'vm.yaml': vm(memory), 'p.yaml': POLICY }));
      expect(plan.actions.find((a) => a.kind === 'VM')).toMatchObject({ snapshotBefore: true, snapshotRetain: 2 });
      expect(failures(result)).toEqual([]);
    }
    const snaps = (sim.db.record(ref).snapshots as string[]).map((r) => sim.db.record(r));
    const pre = snaps.filter((s) => String(s.name_label).startsWith('xops-pre-'));
    // The VM as it was before the last two changes: 2 GiB and 3 GiB. The 1 GiB one was deleted.
    expect(pre.map((s) => Number(s.memory_static_max) / GiB).sort()).toEqual([2, 3]);
    expect(snaps.map((s) => s.name_label)).toContain('by-hand');
    // One pre-change snapshot deleted with its disk: one disk more than before the three changes, not three.
    expect(sim.db.count('VDI') - disks).toBe(2);
  });
});
