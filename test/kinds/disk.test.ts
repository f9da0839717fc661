/**
 * The standalone Disk kind against the simulator: create (with and without an image), idempotent
 * re-runs, live updates, refused shrinks and SR moves, and deletes only through prune with
 * destructive approval. Shrinks are refused as for VM disks; XAPI's VDI.resize only grows
 * (xen-api ocaml/xapi/xapi_vdi.ml, resize: "Disk cannot be shrunk").
 */
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approvalHash } from '../../src/policy/approval.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { VDIRecord } from '../../src/model/observed.js';
import { applyFolder, failures, planFolder, simWithClient } from '../apply/helpers.js';

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => void;

let env: Awaited<ReturnType<typeof simWithClient>>;
let dir: string;

const disk = (name: string, spec: string) => `apiVersion: xops/v1
kind: Disk
metadata: {name: ${name}}
spec:
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

async function write(files: Record<string, string>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

async function vdisNamed(name: string): Promise<VDIRecord[]> {
  const refs = await env.client.call<string[]>('VDI.get_by_name_label', name);
  return Promise.all(refs.map((r) => env.client.call<VDIRecord>('VDI.get_record', r)));
}

beforeAll(async () => {
  env = await simWithClient({ seed: 'demo' });
});
afterAll(async () => {
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  dir ??= await mkdtemp(join(tmpdir(), 'xops-disk-'));
});

describe('Disk', () => {
  it('creates a VDI on the declared SR, marked, and a re-run plans nothing', async () => {
    await write({ 'disks/scratch.yaml': disk('scratch', 'size: 2GiB\nsr: pool-nfs\ndescription: scratch space\ntags: [tmp]') });
    const { plan, result } = await applyFolder(env.client, dir);
    expect(failures(result)).toEqual([]);
    expect(plan.actions.map((a) => `${a.id} ${a.disruption}`)).toEqual(['create:Disk/scratch none']);
    expect(plan.actions[0]!.reason).toBe('2 GiB on pool-nfs');
    const [vdi, ...more] = await vdisNamed('scratch');
    expect(more).toEqual([]);
    expect(vdi).toMatchObject({ virtual_size: 2 * 1024 ** 3, name_description: 'scratch space', tags: ['tmp'], VBDs: [] });
    expect(vdi!.other_config).toMatchObject({ 'xops.managed': 'Disk/scratch', 'xops.standalone': 'true' });
    const sr = await env.client.call<string>('SR.get_name_label', vdi!.SR);
    expect(sr).toBe('pool-nfs');
    const again = await planFolder(env.client, dir);
    expect(again.plan.actions).toEqual([]);
    expect(again.plan.refused).toEqual([]);
  });

  it('changes name, description and size live; refuses a shrink and an SR move', async () => {
    await write({ 'disks/scratch.yaml': disk('scratch', 'nameLabel: scratch-2\nsize: 3GiB\nsr: pool-nfs\ndescription: more scratch\ntags: [tmp]') });
    const { plan, result } = await applyFolder(env.client, dir);
    expect(failures(result)).toEqual([]);
    expect(plan.actions.map((a) => [a.id, a.disruption, a.changes.map((c) => c.path).sort()])).toEqual([
      ['update:Disk/scratch', 'none', ['spec.description', 'spec.nameLabel', 'spec.size']],
    ]);
    const [vdi] = await vdisNamed('scratch-2');
    expect(vdi).toMatchObject({ virtual_size: 3 * 1024 ** 3, name_description: 'more scratch' });
    expect((await planFolder(env.client, dir)).plan.actions).toEqual([]);

    await write({ 'disks/scratch.yaml': disk('scratch', 'nameLabel: scratch-2\nsize: 1GiB\nsr: Local storage on xcp-host1\ndescription: more scratch\ntags: [tmp]') });
    const refusedPlan = (await planFolder(env.client, dir)).plan;
    expect(refusedPlan.actions).toEqual([]);
    expect(refusedPlan.refused.map((r) => [r.path, r.reason.split(':')[0]])).toEqual([
      ['spec.sr', 'moving a disk to another SR is not planned'],
      ['spec.size', 'shrinking a disk would lose data (3 GiB → 1 GiB)'],
    ]);
  });

  it('is deleted only by a prune, as a destructive action that needs approval', async () => {
    await write({ 'pool.yaml': 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: none}\nspec: {admission: []}\n' });
    const kept = await planFolder(env.client, dir);
    expect(kept.plan.actions).toEqual([]);
    expect(kept.plan.diagnostics.map((d) => d.code)).toContain('would-prune');

    const policy = (annotations: string) =>
      `apiVersion: xops/v1\nkind: Policy\nmetadata: {name: prune${annotations}}\nspec: {admission: [], automation: {prune: true}}\n`;
    await write({ 'pool.yaml': policy('') });
    const pruning = await planFolder(env.client, dir);
    expect(pruning.plan.actions.map((a) => `${a.id} ${a.disruption}`)).toEqual(['delete:Disk/scratch destructive']);
    // Without an approval in Git the delete is held, whatever the apply allows.
    const unapproved = await applyFolder(env.client, dir);
    expect(unapproved.result.results.map((r) => r.state)).toEqual(['held']);
    expect(await vdisNamed('scratch-2')).toHaveLength(1);

    // Approved by the hash of exactly that change (an action id does not approve a destructive change).
    await write({ 'pool.yaml': policy(`, annotations: {xops.io/approve: "${approvalHash(pruning.plan.actions[0]!)}"}`) });
    const approved = await applyFolder(env.client, dir);
    expect(failures(approved.result)).toEqual([]);
    expect(await vdisNamed('scratch-2')).toEqual([]);
  });
});

describe('Disk source paths', () => {
  it('refuses a URL, an absolute path and a path leaving the folder when loading', async () => {
    await write({
      'a.yaml': disk('a', 'size: 1GiB\nsr: pool-nfs\nsource: {url: "https://example.com/a.img"}'),
      'b.yaml': disk('b', 'size: 1GiB\nsr: pool-nfs\nsource: {file: /etc/passwd}'),
      'c.yaml': disk('c', 'size: 1GiB\nsr: pool-nfs\nsource: {file: images/../../x.img}'),
    });
    await expect(planFolder(env.client, dir)).rejects.toThrow(
      /URL sources are not supported yet.*must be relative to the manifests folder.*must stay inside the manifests folder/s,
    );
  });

  it('shows the upload size in the plan, and refuses a raw image larger than the disk', async () => {
    await write({
      'disks/big.yaml': disk('big', 'size: 1MiB\nsr: pool-nfs\nsource: {file: images/big.img}'),
      'disks/vhd.yaml': disk('vhd', 'size: 1GiB\nsr: pool-nfs\nsource: {file: images/small.vhd}'),
      'images/big.img': 'x'.repeat(1024 * 1024 + 1),
      'images/small.vhd': 'x'.repeat(1536 * 1024),
    });
    const { plan } = await planFolder(env.client, dir);
    expect(plan.actions.map((a) => `${a.id}: ${a.reason}`)).toEqual(['create:Disk/vhd: 1 GiB on pool-nfs, 1.5 MiB to upload from images/small.vhd']);
    expect(plan.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.address} ${d.path}: ${d.message}`)).toEqual([
      "Disk/big spec.size: the raw image images/big.img holds 1048577 bytes, more than the disk's 1048576",
    ]);
  });

  it('makes plans that schemas/plan.schema.json accepts', async () => {
    await write({ 'disks/d.yaml': disk('d', 'size: 1GiB\nsr: pool-nfs\nsource: {file: images/d.img}'), 'images/d.img': 'x'.repeat(4096) });
    const { plan } = await planFolder(env.client, dir);
    expect(plan.actions.map((a) => a.id)).toEqual(['create:Disk/d']);
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(await readFile(new URL('../../schemas/plan.schema.json', import.meta.url), 'utf8')));
    validate(JSON.parse(JSON.stringify(plan)));
    expect(validate.errors ?? []).toEqual([]);
  });

  it('refuses at apply time an image that is a symlink leading outside the folder', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'xops-outside-'));
    try {
      await writeFile(join(outside, 'secret.img'), Buffer.alloc(4096, 7));
      await write({ 'disks/leak.yaml': disk('leak', 'size: 1MiB\nsr: pool-nfs\nsource: {file: images/leak.img}') });
      await mkdir(join(dir, 'images'));
      await symlink(join(outside, 'secret.img'), join(dir, 'images/leak.img'));
      const { result } = await applyFolder(env.client, dir);
      expect(failures(result)).toEqual([expect.stringMatching(/create:Disk\/leak: failed: .*leads outside the manifests folder/)]);
      // Checked before VDI.create: nothing was made in the pool.
      expect(await vdisNamed('leak')).toEqual([]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('Disk create under a lost reply', () => {
  it('creates one VDI when the reply to VDI.create is lost and the action is retried', async () => {
    await write({ 'disks/lost.yaml': disk('lost', 'size: 1GiB\nsr: pool-nfs') });
    env.sim.faults.inject({ methods: 'VDI.create', connectionReset: { count: 1, afterExecute: true } });
    const { result } = await applyFolder(env.client, dir);
    expect(failures(result)).toEqual([]);
    expect(result.results[0]!.attempts).toBe(2);
    expect((await vdisNamed('lost')).map((v) => v.other_config['xops.managed'])).toEqual(['Disk/lost']);
  });
});
