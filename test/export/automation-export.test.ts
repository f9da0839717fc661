/**
 * `xops export` for snapshot schedules (VMSS) and VM groups (VM_group): hand-made ones in the simulator are
 * exported, loaded back and planned with adoption allowed; the plan adopts them and changes nothing, and once
 * adopted the next plan is empty. Schedule keys and their canonical forms follow xen-api `ocaml/xapi/xapi_vmss.ml`.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { load } from 'js-yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { exportManifests } from '../../src/export/index.js';
import { liveInventoryFrom, loadManifests } from '../../src/manifests/index.js';
import { takeSnapshot } from '../../src/observe/index.js';
import { planChanges } from '../../src/plan/index.js';
import { applyFolder, failures, planFolder, REPO, simWithClient } from '../apply/helpers.js';

const ADOPT = 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: adopt}\nspec:\n  admission: []\n  automation: {adopt: true}\n';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('export of SnapshotSchedule and VMGroup', () => {
  it('writes what the pool has, and the export plans as adopts only, then clean', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const web = sim.db.byName('VM', 'legacy-web01').ref;
    const backup = sim.db.byName('VM', 'backup-appliance').ref;
    const weekly = await client.call<string>('VMSS.create', {
      name_label: 'Weekly checkpoints', name_description: 'before patch day', enabled: false, type: 'checkpoint',
      retained_snapshots: 3, frequency: 'weekly', schedule: { days: 'friday,monday', hour: '03', min: '15' },
    });
    await client.call('VMSS.create', { name_label: 'hourly', name_description: '', enabled: true, type: 'snapshot', retained_snapshots: 7, frequency: 'hourly', schedule: {} });
    await client.call('VM.set_snapshot_schedule', web, weekly);
    const spread = await client.call<string>('VM_group.create', { name_label: 'spread', name_description: '', placement: 'anti_affinity' });
    await client.call('VM.set_groups', web, [spread]);
    await client.call('VM.set_groups', backup, [spread]);

    const observed = await takeSnapshot(client);
    // Only these kinds: the member VMs are not exported, so they are named as the live VMs they are.
    const result = exportManifests(observed, { kinds: ['SnapshotSchedule', 'VMGroup'] });
    const docs = Object.fromEntries(result.files.map((f) => [f.path, load(f.content) as { kind: string; spec: unknown }]));
    expect(Object.keys(docs).sort()).toEqual(['automation/hourly.yaml', 'automation/spread.yaml', 'automation/weekly-checkpoints.yaml']);
    expect(docs['automation/weekly-checkpoints.yaml']).toMatchObject({
      kind: 'SnapshotSchedule',
      spec: {
        nameLabel: 'Weekly checkpoints', description: 'before patch day', enabled: false, type: 'checkpoint', frequency: 'weekly',
        at: { minute: 15, hour: 3, days: ['Monday', 'Friday'] }, retain: 3, vms: ['legacy-web01'],
      },
    });
    expect(docs['automation/hourly.yaml']!.spec).toEqual({ type: 'snapshot', frequency: 'hourly', at: { minute: 0 }, retain: 7, vms: [] });
    expect(docs['automation/spread.yaml']).toMatchObject({ kind: 'VMGroup', spec: { placement: 'anti-affinity', vms: ['backup-appliance', 'legacy-web01'] } });

    const dir = await mkdtemp(join(tmpdir(), 'xops-export-auto-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    for (const f of result.files) {
      await mkdir(dirname(join(dir, f.path)), { recursive: true });
      await writeFile(join(dir, f.path), f.content);
    }
    await writeFile(join(dir, 'adopt.yaml'), ADOPT);
    const { desired, diagnostics } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const plan = planChanges(desired, observed, { repo: REPO });
    expect(plan.actions.map((a) => `${a.id} ${JSON.stringify(a.changes)}`)).toEqual([
      'adopt:SnapshotSchedule/hourly []', 'adopt:SnapshotSchedule/weekly-checkpoints []', 'adopt:VMGroup/spread []',
    ]);

    const adopted = await applyFolder(client, dir);
    expect(failures(adopted.result)).toEqual([]);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
    // Managed now: a second export leaves them out, saying they have manifests.
    const again = exportManifests(await takeSnapshot(client), { kinds: ['SnapshotSchedule', 'VMGroup'] });
    expect(again.files).toEqual([]);
    expect(again.notes.filter((n) => n.code === 'managed')).toHaveLength(3);
  });
});
