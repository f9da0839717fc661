import { defaultConfig } from '../../src/config/index.js';
/**
 * Guest drivers decide what is live, end to end against the simulator: a disk added to a running HVM
 * guest without PV drivers is planned as a reboot, and apply halts the VM, attaches the disk and
 * starts it again (never calling VBD.plug, which real XAPI refuses with VM_MISSING_PV_DRIVERS:
 * xapi-project/xen-api ocaml/xapi/xapi_vm_lifecycle.ml); with PV drivers reported in the guest's
 * VM_guest_metrics (set here through the simulator's database) the same disk is hot-plugged.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/executor.js';
import { liveInventoryFrom, loadManifests } from '../../src/manifests/index.js';
import type { Plan } from '../../src/model/plan.js';
import { takeSnapshot } from '../../src/observe/snapshot.js';
import { gatedPlan } from '../../src/plan/pipeline.js';
import { startWorld, stopWorld, vmRecord, type World } from './helpers.js';

let w: World;
let work: string;

async function planFolder(dir: string): Promise<Plan> {
  const observed = await takeSnapshot(w.client);
  const { desired } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
  return gatedPlan(desired, observed, [], { now: new Date(), limits: defaultConfig().limits });
}

async function applyFolder(dir: string): Promise<Plan> {
  const plan = await planFolder(dir);
  const result = await applyPlan(plan, w.client, { retryDelayMs: 10 });
  expect(result.ok).toBe(true);
  return plan;
}

const manifest = (name: string, disks: string[]) => [
  'apiVersion: xops/v1', 'kind: VM', 'metadata:', `  name: ${name}`, 'spec:', '  template: Debian Bookworm 12', '  vcpus: 1', '  memory: 1GiB',
  '  powerState: running', '  disks:', ...disks.map((d) => `    - {name: ${d}, size: 1GiB}`), '',
].join('\n');

/** Creates the VM running with one disk, then declares a second one; returns the folder. */
async function runningWithNewDisk(name: string): Promise<string> {
  const dir = await mkdtemp(join(work, `${name}-`));
  await writeFile(join(dir, 'vm.yaml'), manifest(name, ['root']));
  await applyFolder(dir);
  await writeFile(join(dir, 'vm.yaml'), manifest(name, ['root', 'data']));
  return dir;
}

/** XAPI calls of one method the simulator served, sync and async. */
const calls = (method: string) => w.sim.stats.get(method) + w.sim.stats.get(`Async.${method}`);

async function attachedDisks(name: string): Promise<number> {
  const vm = (await vmRecord(w, name))!;
  let n = 0;
  for (const vbd of vm.rec['VBDs'] as string[]) {
    const rec = await w.other.call<Record<string, unknown>>('VBD.get_record', vbd);
    if (rec['type'] === 'Disk' && rec['currently_attached'] === true) n++;
  }
  return n;
}

beforeAll(async () => {
  w = await startWorld();
  work = await mkdtemp(join(tmpdir(), 'xops-guest-'));
});
afterAll(async () => {
  await stopWorld(w);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a disk added to a running HVM guest', () => {
  it('without PV drivers: planned as a reboot; apply halts the VM, attaches the disk and starts it again', async () => {
    const dir = await runningWithNewDisk('nodrivers-vm');
    // The template has tools; this guest's OS runs without them (the simulator's guest model, docs/simulator.md).
    w.sim.guests.setProfile((await vmRecord(w, 'nodrivers-vm'))!.ref, { os: { name: 'Debian', distro: 'debian', major: '12', minor: '0' }, tools: false });
    const plan = await planFolder(dir);
    expect(plan.actions.map((a) => `${a.id} ${a.disruption}`)).toEqual(['update:VM/nodrivers-vm reboot']);
    expect(plan.actions[0]!.changes[0]!.reason).toMatch(/the guest has no PV drivers \(XAPI would refuse with VM_MISSING_PV_DRIVERS\), so apply halts the VM, changes it and starts it again/);

    const before = { plugs: calls('VBD.plug'), halts: calls('VM.clean_shutdown'), starts: calls('VM.start') };
    await applyFolder(dir);
    expect((await vmRecord(w, 'nodrivers-vm'))!.rec['power_state']).toBe('Running');
    expect(await attachedDisks('nodrivers-vm')).toBe(2);
    expect({ plugs: calls('VBD.plug'), halts: calls('VM.clean_shutdown'), starts: calls('VM.start') })
      .toEqual({ plugs: before.plugs, halts: before.halts + 1, starts: before.starts + 1 });
  });

  it('with PV drivers reported by the guest agent: hot-plugged, the VM keeps running', async () => {
    const dir = await runningWithNewDisk('drivers-vm');
    const vm = (await vmRecord(w, 'drivers-vm'))!;
    const metrics = w.sim.db.create('VM_guest_metrics', { PV_drivers_detected: true, can_use_hotplug_vbd: 'yes', can_use_hotplug_vif: 'yes', live: true });
    w.sim.db.set(vm.ref, 'guest_metrics', metrics);
    const plan = await planFolder(dir);
    expect(plan.actions.map((a) => `${a.id} ${a.disruption}`)).toEqual(['update:VM/drivers-vm none']);

    const before = { plugs: calls('VBD.plug'), halts: calls('VM.clean_shutdown') };
    await applyFolder(dir);
    expect(await attachedDisks('drivers-vm')).toBe(2);
    expect({ plugs: calls('VBD.plug'), halts: calls('VM.clean_shutdown') }).toEqual({ plugs: before.plugs + 1, halts: before.halts });
  });
});
