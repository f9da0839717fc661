/**
 * The simulator's VMSS (VM snapshot schedules): XAPI's validation rules and the clock-driven scheduler.
 * Rules from xapi-project/xen-api `ocaml/xapi/xapi_vmss.ml` (schedule keys per frequency, retained_snapshots
 * 1..10, VMSS_HAS_VM), `ocaml/xapi/map_check.ml` (INVALID_VALUE ["schedule:key", value], defaults filled in),
 * `ocaml/xapi/xapi_vm.ml` `set_snapshot_schedule` (VM_IS_TEMPLATE) and `ocaml/xapi/xapi_vm_clone.ml`
 * (a snapshot never inherits its VM's schedule).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login } from '../sim/helpers.js';

const HOUR = 3_600_000;
let sim: Simulator;
let s: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);
async function err(method: string, ...params: unknown[]): Promise<string[]> {
  const r = await json(sim.url, method, [s, ...params]);
  if (!r.error) throw new Error(`${method} unexpectedly succeeded`);
  return [r.error.message, ...r.error.data];
}
const vmss = (extra: Record<string, unknown>) => ({ name_label: 'sched', name_description: '', enabled: true, type: 'snapshot', retained_snapshots: 3, frequency: 'hourly', schedule: {}, ...extra });

async function webVm(name: string): Promise<string> {
  const vm = await call('VM.clone', sim.db.byName('VM', 'Debian Bookworm 12').ref, name);
  await call('VM.provision', vm);
  return vm;
}
const scheduledSnapshots = (vm: string): Record<string, any>[] =>
  (sim.db.record(vm).snapshots as string[]).map((r) => sim.db.record(r)).filter((r) => r.is_vmss_snapshot === true);

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false, clockStart: new Date('2026-03-02T10:20:00Z') });
  s = await login(sim);
});
afterAll(() => sim.stop());

describe('VMSS validation', () => {
  it('fills in schedule defaults for the frequency and canonicalises values', async () => {
    const ref = await call('VMSS.create', vmss({ frequency: 'weekly', schedule: { days: 'friday,monday', hour: '03' } }));
    expect(sim.db.record(ref).schedule).toEqual({ days: 'Friday,Monday', hour: '3', min: '0' });
    await call('VMSS.destroy', ref);
  });

  it('refuses keys and values the frequency does not take, and retention outside 1..10', async () => {
    expect(await err('VMSS.create', vmss({ schedule: { hour: '3' } }))).toEqual(['INVALID_VALUE', 'schedule:hour', '3']);
    expect(await err('VMSS.create', vmss({ frequency: 'daily', schedule: { min: '10' } }))).toEqual(['INVALID_VALUE', 'schedule:min', '10']);
    expect(await err('VMSS.create', vmss({ retained_snapshots: 11 }))).toEqual(['INVALID_VALUE', 'retained_snapshots', '11']);
    const ref = await call('VMSS.create', vmss({}));
    expect(await err('VMSS.set_retained_snapshots', ref, 0)).toEqual(['INVALID_VALUE', 'retained_snapshots', '0']);
    await call('VMSS.destroy', ref);
  });

  it('refuses a template as a member and a destroy while VMs are members', async () => {
    const ref = await call('VMSS.create', vmss({}));
    const template = sim.db.byName('VM', 'Debian Bookworm 12').ref;
    expect(await err('VM.set_snapshot_schedule', template, ref)).toEqual(['VM_IS_TEMPLATE', template]);
    const vm = await webVm('member');
    await call('VM.set_snapshot_schedule', vm, ref);
    expect(await call('VMSS.get_VMs', ref)).toEqual([vm]);
    expect(await err('VMSS.destroy', ref)).toEqual(['VMSS_HAS_VM']);
    await call('VM.set_snapshot_schedule', vm, 'OpaqueRef:NULL');
    await call('VMSS.destroy', ref);
    await call('VM.destroy', vm);
  });
});

describe('VMSS scheduling', () => {
  it('takes one snapshot per occurrence as the clock advances and keeps only the retained ones', async () => {
    const vm = await webVm('db1');
    const ref = await call('VMSS.create', vmss({ retained_snapshots: 3, schedule: { min: '30' } }));
    await call('VM.set_snapshot_schedule', vm, ref);
    const disksBefore = sim.db.count('VDI');

    sim.clock.advance(5 * 60_000); // 10:25: the 10:30 run is not due yet
    expect(scheduledSnapshots(vm)).toHaveLength(0);
    sim.clock.advance(HOUR); // 11:25: 10:30 ran
    expect(scheduledSnapshots(vm).map((r) => r.snapshot_time)).toEqual(['20260302T10:30:00Z']);
    expect(scheduledSnapshots(vm)[0]!.snapshot_schedule).toBe('OpaqueRef:NULL');

    sim.clock.advance(4 * HOUR); // 15:25: 11:30..14:30 ran; 3 newest kept
    const times = scheduledSnapshots(vm).map((r) => r.snapshot_time).sort();
    expect(times).toEqual(['20260302T12:30:00Z', '20260302T13:30:00Z', '20260302T14:30:00Z']);
    expect(await call('VMSS.get_last_run_time', ref)).toBe('20260302T14:30:00Z');
    // Pruned snapshots take their disks with them: one disk per retained snapshot remains.
    const diskCount = (sim.db.record(vm).VBDs as string[]).filter((b) => sim.db.record(b).type === 'Disk').length;
    expect(sim.db.count('VDI') - disksBefore).toBe(3 * diskCount);
    await call('VMSS.set_enabled', ref, false);
  });

  it('runs a weekly schedule only on its days, and never while disabled', async () => {
    const vm = await webVm('weekly1');
    const ref = await call('VMSS.create', vmss({ frequency: 'weekly', schedule: { days: 'Wednesday', hour: '2', min: '15' }, retained_snapshots: 2 }));
    await call('VM.set_snapshot_schedule', vm, ref);
    sim.clock.advance(7 * 24 * HOUR);
    const times = scheduledSnapshots(vm).map((r) => r.snapshot_time);
    expect(times).toHaveLength(1);
    expect(new Date(times[0]!.replace(/^(\d{4})(\d\d)(\d\d)T/, '$1-$2-$3T')).getUTCDay()).toBe(3);
    expect(times[0]).toMatch(/T02:15:00Z$/);
    await call('VMSS.set_enabled', ref, false);
    sim.clock.advance(14 * 24 * HOUR);
    expect(scheduledSnapshots(vm)).toHaveLength(1);
  });

  it('takes the schedule at once on snapshot_now, and the clock can be advanced over HTTP', async () => {
    const vm = await webVm('now1');
    const ref = await call('VMSS.create', vmss({ frequency: 'daily', schedule: { hour: '23', min: '45' } }));
    await call('VM.set_snapshot_schedule', vm, ref);
    await call('VMSS.snapshot_now', ref);
    expect(scheduledSnapshots(vm)).toHaveLength(1);
    const before = sim.clock.now().getTime();
    const res = await fetch(`${sim.url}/_sim/clock`, { method: 'POST', body: JSON.stringify({ advanceSeconds: 86_400 }) });
    expect(res.status).toBe(200);
    expect(new Date(((await res.json()) as { now: string }).now).getTime()).toBe(before + 86_400_000);
    expect(scheduledSnapshots(vm)).toHaveLength(2);
    const bad = await fetch(`${sim.url}/_sim/clock`, { method: 'POST', body: JSON.stringify({ advanceSeconds: -1 }) });
    expect(bad.status).toBe(400);
  });
});
