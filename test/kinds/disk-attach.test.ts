/**
 * A standalone Disk attached to a VM by name, against the simulator: the attach is a VBD, the Disk
 * survives a replace of its VM (a template change) with its content intact, an interrupted upload
 * restarts into the same VDI, and detaching keeps the data. Content goes in through
 * `PUT /import_raw_vdi` and is read back with `GET /export_raw_vdi` (xen-api ocaml/xapi/import_raw_vdi.ml,
 * export_raw_vdi.ml); a VDI outlives VM.destroy, which destroys only the VM's VBDs (xen-api
 * ocaml/xapi/xapi_vm_helpers.ml, destroy).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VBDRecord, VDIRecord, VMRecord } from '../../src/model/observed.js';
import { VdiTransfer } from '../../src/xapi/vdi-transfer.js';
import { applyFolder, failures, planFolder, simWithClient } from '../apply/helpers.js';
import { createHash } from 'node:crypto';
import { approvalHash } from '../../src/policy/approval.js';

let env: Awaited<ReturnType<typeof simWithClient>>;
let dir: string;

const MiB = 1024 * 1024;
/** A raw image with a pattern in every block, so that a lost or shifted block shows. */
const IMAGE = Buffer.alloc(3 * MiB, 0);
for (let i = 0; i < IMAGE.length; i += 512) IMAGE.writeUInt32LE((i / 512) * 2654435761 >>> 0, i);

const DISK = `apiVersion: xops/v1
kind: Disk
metadata: {name: data-01}
spec:
  size: 8MiB
  sr: pool-nfs
  source: {file: images/data.img}
`;

// The replace destroys the VM's own root disk: destructive, so the manifest approves it, by the hash
// of the exact change (approved() below computes it from the plan).
const vm = (template: string, disks: string, approve = '') => `apiVersion: xops/v1
kind: VM
metadata: {name: app, annotations: {xops.io/approve: "${approve}"}}
spec:
  template: ${template}
  vcpus: 1
  memory: 1GiB
  disks: ${disks}
  powerState: running
`;

/** Writes the VM manifest approving the destructive action its plan holds, by that action's hash. */
async function approvedVm(template: string, disks: string): Promise<void> {
  await write({ 'vms/app.yaml': vm(template, disks) });
  const { plan } = await planFolder(env.client, dir);
  const held = plan.actions.filter((a) => a.disruption === 'destructive' && a.address === 'VM/app');
  await write({ 'vms/app.yaml': vm(template, disks, held.map(approvalHash).join(' ')) });
}

const prunePolicy = (approve: string) =>
  `apiVersion: xops/v1\nkind: Policy\nmetadata: {name: prune, annotations: {xops.io/approve: "${approve}"}}\nspec: {admission: [], automation: {prune: true}}\n`;

async function write(files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

async function record<T>(cls: string, ref: string): Promise<T> {
  return env.client.call<T>(`${cls}.get_record`, ref);
}

async function theDisk(): Promise<[string, VDIRecord]> {
  const refs = await env.client.call<string[]>('VDI.get_by_name_label', 'data-01');
  expect(refs).toHaveLength(1);
  return [refs[0]!, await record<VDIRecord>('VDI', refs[0]!)];
}

async function theVm(): Promise<[string, VMRecord]> {
  const refs = await env.client.call<string[]>('VM.get_by_name_label', 'app');
  expect(refs).toHaveLength(1);
  return [refs[0]!, await record<VMRecord>('VM', refs[0]!)];
}

async function download(vdi: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(chunk); done(); } });
  const t = new VdiTransfer(await env.client.transferEndpoint());
  try {
    await t.download(vdi, sink);
  } finally {
    await t.close();
  }
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  env = await simWithClient({ seed: 'demo' });
  dir = await mkdtemp(join(tmpdir(), 'xops-disk-attach-'));
});
afterAll(async () => {
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a Disk attached to a VM', () => {
  it('restarts an interrupted upload into the same VDI, never a second one', async () => {
    await write({ 'disks/data-01.yaml': DISK, 'images/data.img': IMAGE });
    // The upload's own task.create is refused: the VDI exists, marked pending, with no content yet.
    env.sim.faults.inject({ methods: 'task.create', tooManyPendingTasks: 1 });
    const first = await applyFolder(env.client, dir, { retries: 0 });
    expect(first.plan.actions.map((a) => `${a.id}: ${a.reason}`)).toEqual(['create:Disk/data-01: 8 MiB on pool-nfs, 3 MiB to upload from images/data.img']);
    expect(failures(first.result)).toEqual([expect.stringMatching(/^create:Disk\/data-01: failed: .*TOO_MANY_PENDING_TASKS/)]);
    const [, pending] = await theDisk();
    expect(pending.other_config['xops.content']).toBe('pending');

    const again = await planFolder(env.client, dir);
    expect(again.plan.actions.map((a) => [a.id, a.changes.map((c) => c.path)])).toEqual([['update:Disk/data-01', ['spec.source']]]);
    const lines: string[] = [];
    const log = { info: (_: object, msg?: string) => lines.push(msg ?? ''), warn() {}, error() {}, debug() {} };
    const second = await applyFolder(env.client, dir, { log });
    expect(failures(second.result)).toEqual([]);
    // Progress goes to the log as the image streams, ending at the whole image.
    const progress = lines.filter((l) => l.startsWith('uploading images/data.img: '));
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toBe('uploading images/data.img: 3.0 MiB of 3.0 MiB (100%)');
    const [ref, done] = await theDisk();
    expect(done.uuid).toBe(pending.uuid);
    expect(done.other_config['xops.content']).toBe(`sha256:${createHash('sha256').update(IMAGE).digest('hex')}`);
    const content = await download(ref);
    expect(content.length).toBe(8 * MiB);
    expect(content.subarray(0, IMAGE.length).equals(IMAGE)).toBe(true);
    expect(content.subarray(IMAGE.length).every((b) => b === 0)).toBe(true);
    expect((await planFolder(env.client, dir)).plan.actions).toEqual([]);
  });

  it('attaches the Disk by name as a VBD of the VM, plugged while it runs; a re-run plans nothing', async () => {
    await write({ 'vms/app.yaml': vm('Debian Bookworm 12', '[{name: root, size: 10GiB}, {disk: data-01}]') });
    const { plan, result } = await applyFolder(env.client, dir);
    expect(failures(result)).toEqual([]);
    expect(plan.actions.map((a) => a.id)).toEqual(['create:VM/app']);
    const [vmRef, vmRec] = await theVm();
    const [vdiRef, vdi] = await theDisk();
    expect(vdi.VBDs).toHaveLength(1);
    const vbd = await record<VBDRecord>('VBD', vdi.VBDs[0]!);
    expect(vbd).toMatchObject({ VM: vmRef, type: 'Disk', mode: 'RW', currently_attached: true, bootable: false });
    expect(vbd.other_config).toMatchObject({ 'xops.managed': 'VM/app', 'xops.attach': 'Disk/data-01' });
    // The Disk stays the Disk's: the VM's own disk mark never lands on it.
    expect(vdi.other_config['xops.disk']).toBeUndefined();
    expect(vdi.other_config['xops.managed']).toBe('Disk/data-01');
    expect(vmRec.VBDs).toContain(vdi.VBDs[0]);
    expect(vdiRef).toBeTruthy();
    const again = await planFolder(env.client, dir);
    expect(again.plan.actions).toEqual([]);
  });

  it('survives a template change (replace) of its VM with its content intact, and is attached to the new VM', async () => {
    const [, before] = await theDisk();
    const [oldVm] = await theVm();
    await approvedVm('Rocky Linux 9', '[{name: root, size: 10GiB}, {disk: data-01}]');
    const { plan, result } = await applyFolder(env.client, dir);
    expect(failures(result)).toEqual([]);
    const replace = plan.actions.find((a) => a.operation === 'replace')!;
    expect(replace.id).toBe('replace:VM/app');
    // The VM's own root disk goes with it; the Disk is not among the objects destroyed.
    expect(replace.objects.filter((o) => o.cls === 'VDI').map((o) => o.uuid)).not.toContain(before.uuid);
    const [newVm, newRec] = await theVm();
    expect(newVm).not.toBe(oldVm);
    expect(newRec.other_config['base_template_name']).toBe('Rocky Linux 9');
    const [ref, after] = await theDisk();
    expect(after.uuid).toBe(before.uuid);
    expect(after.VBDs).toHaveLength(1);
    expect((await record<VBDRecord>('VBD', after.VBDs[0]!)).VM).toBe(newVm);
    const content = await download(ref);
    expect(content.subarray(0, IMAGE.length).equals(IMAGE)).toBe(true);
    expect((await planFolder(env.client, dir)).plan.actions).toEqual([]);
  });

  it('detaches the Disk when the VM no longer lists it, keeping the VDI and its data', async () => {
    await write({ 'vms/app.yaml': vm('Rocky Linux 9', '[{name: root, size: 10GiB}]') });
    const { plan, result } = await applyFolder(env.client, dir);
    expect(failures(result)).toEqual([]);
    expect(plan.actions.map((a) => [a.id, a.disruption, a.changes.map((c) => c.path)])).toEqual([
      ['update:VM/app', 'none', ['spec.attachments[Disk/data-01]']],
    ]);
    const [ref, vdi] = await theDisk();
    expect(vdi.VBDs).toEqual([]);
    const [, vmRec] = await theVm();
    expect(vmRec.VBDs).toHaveLength(1);
    expect((await download(ref)).subarray(0, IMAGE.length).equals(IMAGE)).toBe(true);
    expect((await planFolder(env.client, dir)).plan.actions).toEqual([]);
  });

  it('is destroyed by a prune only after the VMs that drop it have detached it', async () => {
    await approvedVm('Rocky Linux 9', '[{name: root, size: 10GiB}, {disk: data-01}]');
    expect(failures((await applyFolder(env.client, dir)).result)).toEqual([]);
    await rm(join(dir, 'disks'), { recursive: true });
    await write({
      'vms/app.yaml': vm('Rocky Linux 9', '[{name: root, size: 10GiB}]'),
      'prune.yaml': prunePolicy(''),
    });
    // The destructive delete is approved by the hash of exactly that change.
    const pending = (await planFolder(env.client, dir, { prune: true })).plan.actions.find((a) => a.id === 'delete:Disk/data-01')!;
    await write({ 'prune.yaml': prunePolicy(approvalHash(pending)) });
    const { plan, result } = await applyFolder(env.client, dir);
    expect(failures(result)).toEqual([]);
    const del = plan.actions.find((a) => a.id === 'delete:Disk/data-01')!;
    expect(del.disruption).toBe('destructive');
    expect(del.dependsOn).toContain('update:VM/app');
    expect(await env.client.call<string[]>('VDI.get_by_name_label', 'data-01')).toEqual([]);
    const [, vmRec] = await theVm();
    expect(vmRec.VBDs).toHaveLength(1);
  });
});
