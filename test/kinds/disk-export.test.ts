/**
 * `xops export` and standalone disks: a VDI xops made for a Disk manifest keeps `xops.standalone`,
 * so once the ownership marks are gone (the repository lost, the pool handed over) export writes it
 * back as a Disk manifest and the VM that uses it as a `{disk: NAME}` entry. Loaded back and planned
 * with adoption allowed, that is adopts only; adopting converges to an empty plan.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exportManifests } from '../../src/export/index.js';
import { takeSnapshot } from '../../src/observe/index.js';
import { applyFolder, failures, planFolder, simWithClient } from '../apply/helpers.js';

let env: Awaited<ReturnType<typeof simWithClient>>;
let work: string;

/** The keys that say who owns an object; `xops.standalone`, `xops.disk` and the rest stay. */
const OWNERSHIP_KEYS = ['xops.managed', 'xops.repo', 'xops.spec'];

beforeAll(async () => {
  env = await simWithClient({ seed: 'demo' });
  work = await mkdtemp(join(tmpdir(), 'xops-disk-export-'));
});
afterAll(async () => {
  await env?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

it('writes a Disk manifest for a standalone disk and the VM refers to it by name; adopting it converges', async () => {
  const source = join(work, 'source');
  await mkdir(join(source, 'vms'), { recursive: true });
  await writeFile(join(source, 'data-01.yaml'), 'apiVersion: xops/v1\nkind: Disk\nmetadata: {name: data-01}\nspec: {size: 4GiB, sr: pool-nfs, description: app data, tags: [data]}\n');
  await writeFile(join(source, 'vms/app.yaml'), 'apiVersion: xops/v1\nkind: VM\nmetadata: {name: app}\nspec:\n  template: Debian Bookworm 12\n  vcpus: 1\n  memory: 1GiB\n  disks: [{name: root, size: 10GiB, sr: pool-nfs}, {disk: data-01}]\n  powerState: halted\n');
  expect(failures((await applyFolder(env.client, source)).result)).toEqual([]);
  for (const cls of ['VM', 'VDI', 'VBD', 'VIF']) {
    const records = await env.client.call<Record<string, { other_config?: Record<string, string> }>>(`${cls}.get_all_records`);
    for (const [ref, rec] of Object.entries(records)) {
      for (const key of OWNERSHIP_KEYS) if (rec.other_config?.[key] !== undefined) await env.client.call(`${cls}.remove_from_other_config`, ref, key);
    }
  }

  const result = exportManifests(await takeSnapshot(env.client), { kinds: ['Disk', 'VM'] });
  const files = new Map(result.files.map((f) => [f.address, f]));
  const disk = files.get('Disk/data-01')!;
  expect(disk.path).toBe('disks/data-01.yaml');
  expect(disk.content).toContain('kind: Disk\nmetadata:\n  name: data-01\nspec:\n  description: app data\n  size: 4GiB\n  sr: pool-nfs\n  tags:\n    - data\n');
  const vm = files.get('VM/app')!;
  expect(vm.content).toContain('  disks:\n    - name: root\n      size: 10GiB\n      sr: pool-nfs\n    - disk: data-01\n');

  const out = join(work, 'out');
  for (const f of [disk, vm]) {
    await mkdir(dirname(join(out, f.path)), { recursive: true });
    await writeFile(join(out, f.path), f.content);
  }
  await writeFile(join(out, 'adopt.yaml'), 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: adopt}\nspec: {admission: [], automation: {adopt: true}}\n');
  const { plan, result: applied } = await applyFolder(env.client, out);
  expect(plan.refused).toEqual([]);
  expect(plan.actions.map((a) => `${a.id} ${a.changes.map((c) => c.path).join(',')}`)).toEqual(['adopt:Disk/data-01 ', 'adopt:VM/app ']);
  expect(failures(applied)).toEqual([]);
  expect((await planFolder(env.client, out)).plan.actions).toEqual([]);
  expect(await readFile(join(out, 'disks/data-01.yaml'), 'utf8')).toContain('# yaml-language-server: $schema=../schemas/disk.schema.json');
});
