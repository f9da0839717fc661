import type { ControllerOptions } from '../../src/controller/controller.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalSource } from '../../src/source/local-source.js';
import {
  GiB,
  LOCAL_DEBOUNCE_MS,
  manifestFolder,
  policyManifest,
  reconcileNow,
  resetWorld,
  snapshotsOf,
  startTestController,
  startWorld,
  status,
  stopWorld,
  until,
  vmManifest,
  vmRecord,
  writeFiles,
  type World,
} from './helpers.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => stopWorld(w));
afterEach(() => resetWorld(w));

// Sunday 02:00–06:00 UTC. 2025-01-01 is a Wednesday; 2025-01-05 a Sunday.
const WINDOW = ['windows:', '  - name: sunday-night', '    schedule: "0 2 * * SUN"', '    duration: 4h', '    timezone: UTC', '    allow: [reboot]'];
const WEDNESDAY_NOON = Date.parse('2025-01-01T12:00:00Z');
const SUNDAY_3AM = Date.parse('2025-01-05T03:00:00Z');

/** A settable clock for the automation policies (maintenance windows, snapshot names). */
function testClock(start: number): { now: () => Date; set(ms: number): void } {
  let t = start;
  return { now: () => new Date(t), set: (ms) => void (t = ms) };
}

/** Starts a controller on `files` and waits until its first reconcile created everything. */
async function controllerOn(files: Record<string, string>, clock = testClock(WEDNESDAY_NOON), extra: Partial<ControllerOptions> = {}) {
  const dir = manifestFolder(w, files);
  const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }), { now: clock.now, ...extra });
  await until('first reconcile', () => status(c), (s) => s.lastReconcile?.result === 'success');
  await c.loop.idle();
  return { c, dir, clock };
}

/** Edits the folder and waits for the reconcile of the new revision. */
async function edit(c: Awaited<ReturnType<typeof controllerOn>>['c'], dir: string, files: Record<string, string>) {
  const before = c.status.snapshot().commit;
  writeFiles(dir, files);
  await until('edit reconciled', () => status(c), (s) => s.commit !== before && s.lastReconcile?.commit === s.commit);
  await c.loop.idle();
  return c.status.snapshot();
}

const memoryOf = async (name: string) => (await vmRecord(w, name))?.rec['memory_static_max'];

describe('automation policies, end to end', () => {
  it('holds a reboot outside its maintenance window and applies it when the window opens', async () => {
    const { c, dir, clock } = await controllerOn({ 'vm.yaml': vmManifest('window-vm'), 'policy.yaml': policyManifest('nightly', WINDOW) });
    const held = await edit(c, dir, { 'vm.yaml': vmManifest('window-vm', { memory: '2GiB' }) });
    expect(held.held).toEqual([
      expect.objectContaining({ address: 'VM/window-vm', disruption: 'reboot', policy: 'nightly', reason: 'outside maintenance window; next opens at 2025-01-05T02:00:00.000Z' }),
    ]);
    expect(held.resources).toEqual([expect.objectContaining({ address: 'VM/window-vm', state: 'held' })]);
    expect(await memoryOf('window-vm')).toBe(GiB);

    clock.set(SUNDAY_3AM);
    const opened = await reconcileNow(c);
    expect(opened.held).toEqual([]);
    expect(opened.lastReconcile?.actions).toMatchObject({ applied: 1, failed: 0, held: 0 });
    expect(await memoryOf('window-vm')).toBe(2 * GiB);
    expect((await vmRecord(w, 'window-vm'))?.rec['power_state']).toBe('Running');
  });

  it('with maxDisruptive: 1, spreads three reboots over three reconciles', async () => {
    const names = ['budget-a', 'budget-b', 'budget-c'];
    const vms = (memory: string) => Object.fromEntries(names.map((n) => [`${n}.yaml`, vmManifest(n, { memory })]));
    const { c, dir } = await controllerOn({ ...vms('1GiB'), 'policy.yaml': policyManifest('one-at-a-time', ['maxDisruptive: 1']) });

    const first = await edit(c, dir, vms('2GiB'));
    const doneAfter = [first.lastReconcile?.actions.applied];
    const resized = async () => (await Promise.all(names.map(memoryOf))).filter((m) => m === 2 * GiB).length;
    const counts = [await resized()];
    expect(first.held.map((h) => h.reason)).toEqual(Array(2).fill('maxDisruptive 1 reached; runs in a later reconcile'));
    for (let i = 0; i < 2; i++) {
      doneAfter.push((await reconcileNow(c)).lastReconcile?.actions.applied);
      counts.push(await resized());
    }
    expect(doneAfter).toEqual([1, 1, 1]);
    expect(counts).toEqual([1, 2, 3]);
    expect((await reconcileNow(c)).lastReconcile?.actions.planned).toBe(0);
  });

  it('runs a destructive delete only once the commit carries the approval named in the held reason', async () => {
    // prune: a disk dropped from the manifest is deleted (destructive), which needs approval.
    const policy = policyManifest('careful', ['prune: true', 'approval: [destructive]']);
    // The operator allows destructive changes (limits.destructive); the repository's policy then decides.
    const limits = { adopt: false, prune: true, destructive: true };
    const { c, dir } = await controllerOn({ 'vm.yaml': vmManifest('approve-vm', { powerState: 'halted', disks: ['root', 'data'] }), 'policy.yaml': policy }, undefined, { limits });
    const vbds = async () => ((await vmRecord(w, 'approve-vm'))?.rec['VBDs'] as string[]).length;
    const disksBefore = await vbds();

    const held = await edit(c, dir, { 'vm.yaml': vmManifest('approve-vm', { powerState: 'halted', disks: ['root'] }) });
    expect(held.held).toHaveLength(1);
    const reason = held.held[0]!.reason;
    const hash = /xops\.io\/approve: (\S+)/.exec(reason)?.[1];
    expect(held.held[0]).toMatchObject({ disruption: 'destructive', policy: 'careful' });
    expect(hash).toBeDefined();
    expect(await vbds()).toBe(disksBefore);

    const approved = await edit(c, dir, { 'vm.yaml': vmManifest('approve-vm', { powerState: 'halted', disks: ['root'], annotations: { 'xops.io/approve': hash! } }) });
    expect(approved.held).toEqual([]);
    expect(approved.lastReconcile?.actions).toMatchObject({ failed: 0 });
    expect(await vbds()).toBe(disksBefore - 1);
  });

  it('snapshots the VM before a reboot-class change when snapshotBefore lists reboot', async () => {
    const { c, dir } = await controllerOn({ 'vm.yaml': vmManifest('snap-vm'), 'policy.yaml': policyManifest('snap', ['snapshotBefore: [reboot]']) });
    expect(await snapshotsOf(w, 'snap-vm')).toEqual([]);
    const s = await edit(c, dir, { 'vm.yaml': vmManifest('snap-vm', { memory: '2GiB' }) });
    expect(s.lastReconcile?.actions).toMatchObject({ applied: 1, failed: 0 });
    // Named as docs/policies.md promises, so an operator can find it; it holds the VM as it was before.
    const snaps = await snapshotsOf(w, 'snap-vm');
    expect(snaps).toEqual([expect.stringMatching(/^xops-pre-update-VM-snap-vm-\d{8}T\d{6}Z$/)]);
    const vm = (await vmRecord(w, 'snap-vm'))!;
    const snapshot = await w.other.call<Record<string, unknown>>('VM.get_record', (vm.rec['snapshots'] as string[])[0]);
    expect(snapshot['memory_static_max']).toBe(GiB);
    expect(vm.rec['memory_static_max']).toBe(2 * GiB);
  });

  it('with drift: report, changes nothing in the pool, however many reconciles run', async () => {
    const { c } = await controllerOn({ 'vm.yaml': vmManifest('report-vm', { powerState: 'halted' }), 'policy.yaml': policyManifest('watch-only', ['drift: report']) });
    const vm = (await vmRecord(w, 'report-vm'))!;
    await w.other.call('VM.set_name_description', vm.ref, 'hand-made');
    await w.other.call('VM.set_memory', vm.ref, 2 * GiB);
    await until('drift reported', () => status(c), (s) => s.drift.length === 1);
    await c.loop.idle();
    const before = (await vmRecord(w, 'report-vm'))!.rec;
    for (let i = 0; i < 2; i++) {
      const s = await reconcileNow(c);
      expect(s.lastReconcile?.actions.applied).toBe(0);
      expect(s.drift).toEqual([{ address: 'VM/report-vm', paths: expect.arrayContaining(['spec.description', 'spec.memory']), healed: false }]);
    }
    expect((await vmRecord(w, 'report-vm'))!.rec).toEqual(before);
  });
});

describe("the operator's limits over the repository's policies", () => {
  it('a policy that prunes and approves a destructive delete still cannot run it beyond the limits', async () => {
    const policy = policyManifest('careful', ['prune: true', 'approval: [destructive]']);
    const limits = { adopt: false, prune: true, destructive: false };
    const { c, dir } = await controllerOn({ 'vm.yaml': vmManifest('limited-vm', { powerState: 'halted', disks: ['root', 'data'] }), 'policy.yaml': policy }, undefined, { limits });
    const vbds = async () => ((await vmRecord(w, 'limited-vm'))?.rec['VBDs'] as string[]).length;
    const before = await vbds();
    const held = await edit(c, dir, { 'vm.yaml': vmManifest('limited-vm', { powerState: 'halted', disks: ['root'] }) });
    expect(held.held.filter((h) => h.address === 'VM/limited-vm')).toEqual([
      expect.objectContaining({ disruption: 'destructive', policy: '(operator limits)', reason: expect.stringContaining("beyond the operator's limits") }),
    ]);
    expect(await vbds()).toBe(before);
  });
});
