/**
 * SnapshotSchedule end to end: manifests → plan → apply → a VMSS in the simulator, whose clock then drives
 * the snapshots; retention keeps only the newest. Membership by name and by label selector.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/manifests/index.js';
import { applyFolder, failures, planFolder, simWithClient, scratch } from '../apply/helpers.js';

const HOUR = 3_600_000;
const POLICY = `apiVersion: xops/v1
kind: Policy
metadata: {name: ops}
spec:
  admission: []
  automation: {prune: true, approval: []}
`;
const vm = (name: string, labels = '{}') => `apiVersion: xops/v1
kind: VM
metadata: {name: ${name}, labels: ${labels}}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: 1GiB
  disks:
    - {name: root, size: 5GiB}
  powerState: running
`;
const schedule = (o: { retain?: number; at?: string; frequency?: string; vms?: string } = {}) => `apiVersion: xops/v1
kind: SnapshotSchedule
metadata: {name: hourly-web}
spec:
  frequency: ${o.frequency ?? 'hourly'}
  at: ${o.at ?? '{minute: 15}'}
  retain: ${o.retain ?? 3}
  vms: ${o.vms ?? '[db1]'}
  selector: {labels: {tier: web}}
`;

const { cleanup, folder } = scratch('xops-vmss-');

describe('SnapshotSchedule manifests', () => {
  it('refuses schedule keys the frequency does not take, naming the field', async () => {
    const dir = await folder({ 's.yaml': schedule({ at: '{minute: 15, hour: 3}' }) });
    const { diagnostics } = await loadManifests(dir, {});
    expect(diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.path}: ${d.message}`)).toContain('spec.at.hour: an hourly schedule takes no hour');
    const bad = await folder({ 's.yaml': schedule({ at: '{minute: 10}' }) });
    expect((await loadManifests(bad, {})).diagnostics.some((d) => d.severity === 'error' && d.path === 'spec.at.minute')).toBe(true);
  });
});

describe('SnapshotSchedule through the simulator', () => {
  it('creates the VMSS with its members, snapshots on the clock, keeps only the retained ones, converges and prunes', async () => {
    const env = await simWithClient({ clockStart: new Date('2026-05-04T08:00:00Z') });
    cleanup.push(env.stop);
    const { client, sim } = env;
    const files = { 'vms.yaml': [vm('db1'), vm('web1', '{tier: web}'), vm('web2', '{tier: web}'), vm('batch1')].join('---\n'), 'policy.yaml': POLICY };
    const v1 = await folder({ ...files, 's.yaml': schedule() });
    expect(failures((await applyFolder(client, v1)).result)).toEqual([]);
    expect((await planFolder(client, v1)).plan.actions).toEqual([]);

    const vmss = sim.db.byName('VMSS', 'hourly-web');
    expect(vmss.rec).toMatchObject({ frequency: 'hourly', schedule: { min: '15' }, retained_snapshots: 3, type: 'snapshot', enabled: true });
    const members = (vmss.rec.VMs as string[]).map((r) => sim.db.record(r).name_label).sort();
    expect(members).toEqual(['db1', 'web1', 'web2']);

    const scheduled = (name: string) =>
      (sim.db.byName('VM', name).rec.snapshots as string[]).map((r) => sim.db.record(r)).filter((r) => r.is_vmss_snapshot === true).map((r) => r.snapshot_time as string).sort();
    sim.clock.advance(5 * HOUR); // 08:15 .. 12:15 run
    expect(scheduled('web1')).toEqual(['20260504T10:15:00Z', '20260504T11:15:00Z', '20260504T12:15:00Z']);
    expect(scheduled('db1')).toHaveLength(3);
    expect(scheduled('batch1')).toEqual([]);
    // Scheduled snapshots are the pool's, not xops': a re-plan wants nothing.
    expect((await planFolder(client, v1)).plan.actions).toEqual([]);

    // Changing retention and the members: one live update; fewer retained snapshots after the next run.
    const v2 = await folder({ ...files, 's.yaml': schedule({ retain: 1, vms: '[batch1]', frequency: 'daily', at: '{hour: 2, minute: 30}' }) });
    const up = await applyFolder(client, v2);
    expect(up.plan.actions.map((a) => `${a.operation}:${a.address}:${a.disruption}`)).toEqual(['update:SnapshotSchedule/hourly-web:none']);
    expect(failures(up.result)).toEqual([]);
    expect(sim.db.record(vmss.ref)).toMatchObject({ frequency: 'daily', schedule: { hour: '2', min: '30' }, retained_snapshots: 1 });
    expect(sim.db.record(sim.db.byName('VM', 'db1').ref).snapshot_schedule).toBe('OpaqueRef:NULL');
    expect((await planFolder(client, v2)).plan.actions).toEqual([]);
    sim.clock.advance(24 * HOUR); // the 02:30 run next day
    expect(scheduled('web1')).toEqual(['20260505T02:30:00Z']);
    expect(scheduled('batch1')).toEqual(['20260505T02:30:00Z']);
    expect(scheduled('db1')).toHaveLength(3); // no longer a member: left as it was

    // Drift: someone changes the retention by hand; the plan puts it back.
    await client.call('VMSS.set_retained_snapshots', vmss.ref, 5);
    const drift = (await planFolder(client, v2)).plan.actions;
    expect(drift.map((a) => [a.id, a.drift])).toEqual([['update:SnapshotSchedule/hourly-web', true]]);

    // Prune: members leave, the VMSS and its marks go; the snapshots stay.
    const gone = await applyFolder(client, await folder(files), { prune: true });
    expect(failures(gone.result)).toEqual([]);
    expect(sim.db.findByName('VMSS', 'hourly-web')).toEqual([]);
    expect(Object.keys(sim.db.record(sim.poolRef).other_config as object).filter((k) => k.includes('/VMSS/'))).toEqual([]);
    expect(scheduled('web1')).toHaveLength(1);
  });
});
