/**
 * Acceptance: export is faithful. A pool built by hand (the demo seed, plus everything the examples
 * declare, with xops' marks stripped so nothing is managed) is exported, loaded back and planned with
 * adoption allowed: the plan adopts every exported object and changes nothing else. Adopting it
 * converges: the next plan is empty. Every VM's disks are declared, the hand-made ones (whose VDIs
 * are not named `<vm>-<disk>`) by position; adopting marks them without creating or renaming any.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportManifests, type ExportOptions } from '../../src/export/index.js';
import { liveInventoryFrom, loadManifests } from '../../src/manifests/index.js';
import { takeSnapshot } from '../../src/observe/index.js';
import { planChanges } from '../../src/plan/index.js';
import type { XapiClient } from '../../src/xapi/client.js';
import { applyFolder, failures, planFolder, REPO, simWithClient } from '../apply/helpers.js';

const ADOPT_POLICY = `apiVersion: xops/v1
kind: Policy
metadata: {name: adopt}
spec:
  admission: []
  automation: {adopt: true}
`;

/** Classes whose objects carry xops' keys after an apply (VM appliances keep theirs in the pool's other_config). */
const MARKED_CLASSES = ['pool', 'network', 'SR', 'VM', 'VDI', 'VIF', 'VBD', 'PIF', 'PBD', 'Bond', 'VLAN'];

/** Removes every `xops.*` key, leaving a pool that looks hand-made: nothing in it is managed. */
async function stripMarks(client: XapiClient): Promise<void> {
  for (const cls of MARKED_CLASSES) {
    const records = await client.call<Record<string, { other_config?: Record<string, string> }>>(`${cls}.get_all_records`);
    for (const [ref, rec] of Object.entries(records)) {
      for (const key of Object.keys(rec.other_config ?? {})) {
        if (key.startsWith('xops.')) await client.call(`${cls}.remove_from_other_config`, ref, key);
      }
    }
  }
}

/** Every plain VM's disks (Disk VBDs): VM name, VDI uuid and name_label, and its `xops.disk` mark. */
async function vmDisks(client: XapiClient): Promise<{ vm: string; vdi: string; label: string; mark?: string }[]> {
  const observed = await takeSnapshot(client);
  const out: { vm: string; vdi: string; label: string; mark?: string }[] = [];
  for (const vm of observed.records.VM.values()) {
    if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) continue;
    for (const ref of vm.VBDs) {
      const vbd = observed.records.VBD.get(ref);
      const vdi = vbd && vbd.type === 'Disk' && !vbd.empty ? observed.records.VDI.get(vbd.VDI) : undefined;
      if (vdi) out.push({ vm: vm.name_label, vdi: vdi.uuid, label: vdi.name_label, mark: vdi.other_config['xops.disk'] });
    }
  }
  return out.sort((a, b) => a.vm.localeCompare(b.vm) || a.vdi.localeCompare(b.vdi));
}

async function writeExport(dir: string, files: { path: string; content: string }[]): Promise<void> {
  for (const f of files) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true });
    await writeFile(join(dir, f.path), f.content);
  }
}

let env: Awaited<ReturnType<typeof simWithClient>>;
let work: string;

beforeAll(async () => {
  env = await simWithClient({ seed: 'demo' });
  work = await mkdtemp(join(tmpdir(), 'xops-export-'));
  const { result } = await applyFolder(env.client, 'examples');
  expect(failures(result)).toEqual([]);
  await stripMarks(env.client);
}, 60_000);
afterAll(async () => {
  await env?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('export → load → plan with adoption', () => {
  // Each case exports the same hand-made pool with different options; each must plan as adopts only.
  const cases: { why: string; options: ExportOptions }[] = [
    { why: 'the default export', options: {} },
    { why: 'other_config keys declared too (the examples set some on the pool and app-01)', options: { otherConfig: true } },
  ];
  it.each(cases)('$why: loads, and plans only adopt actions for every exported object', async ({ options }) => {
    const dir = await mkdtemp(join(work, 'out-'));
    const observed = await takeSnapshot(env.client);
    const result = exportManifests(observed, options);
    await writeExport(dir, result.files);
    const live = liveInventoryFrom(observed);

    // The demo's two hand-made VMs have no recorded template: written without one, which an existing VM needs not.
    for (const file of ['vms/legacy-web01.yaml', 'vms/backup-appliance.yaml']) expect(await readFile(join(dir, file), 'utf8')).not.toMatch(/^ +template:/m);
    // The operator allows adoption, and edits nothing else.
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies/adopt.yaml'), ADOPT_POLICY);

    const { desired, diagnostics } = await loadManifests(dir, { live });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const plan = planChanges(desired, observed, { repo: REPO });
    expect(plan.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(plan.refused).toEqual([]);
    expect(plan.actions.filter((a) => a.operation !== 'adopt').map((a) => `${a.id} ${JSON.stringify(a.changes)}`)).toEqual([]);
    // Pool and Host manifests state settings of objects that exist anyway: never adopted, they plan as no change.
    const exported = result.files.map((f) => f.address).filter((a) => !a.startsWith('Pool/') && !a.startsWith('Host/'));
    expect(result.files.map((f) => f.address).filter((a) => a.startsWith('Host/'))).toEqual(['Host/xcp-host1', 'Host/xcp-host2', 'Host/xcp-host3']);
    expect(plan.actions.map((a) => a.address).sort()).toEqual(exported.sort());
    // What the examples created is all there, under the same names.
    expect(exported).toEqual(expect.arrayContaining([
      'Network/prod-vlan100', 'Network/storage-bond', 'SR/nfs-backups', 'SR/smb-archive',
      'VM/app-01', 'VM/db-01', 'VM/web-01', 'VM/web-02', 'VMAppliance/shop',
      'SnapshotSchedule/shop-nightly', 'VMGroup/web-spread',
    ]));
  });

  it('adopting the export converges: afterwards the plan is empty', async () => {
    const dir = await mkdtemp(join(work, 'adopt-'));
    const observed = await takeSnapshot(env.client);
    await writeExport(dir, exportManifests(observed).files);
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies/adopt.yaml'), ADOPT_POLICY);
    // The hand-made VMs' disks are declared as they are, though their VDIs are not named '<vm>-<disk>'; a host's
    // local SR is not exported (it is the host's), so the disk names it by its XAPI name.
    for (const [file, disk] of [['vms/legacy-web01.yaml', 'root, 20GiB, pool-nfs'], ['vms/backup-appliance.yaml', 'data, 50GiB, Local storage on xcp-host2']]) {
      const [name, size, sr] = disk.split(', ');
      expect(await readFile(join(dir, file), 'utf8')).toContain(`  disks:\n    - name: ${name}\n      size: ${size}\n      sr: ${sr}\n`);
    }
    const disksBefore = await vmDisks(env.client);
    const { plan, result } = await applyFolder(env.client, dir);
    expect(plan.actions.every((a) => a.operation === 'adopt')).toBe(true);
    expect(failures(result)).toEqual([]);
    const again = await planFolder(env.client, dir);
    expect(again.plan.actions.map((a) => `${a.id} ${JSON.stringify(a.changes)}`)).toEqual([]);
    // Adopting created no disk and renamed none; it marked every declared disk as its manifest's disk.
    const disksAfter = await vmDisks(env.client);
    expect(disksAfter.map(({ vm, vdi, label }) => ({ vm, vdi, label }))).toEqual(disksBefore.map(({ vm, vdi, label }) => ({ vm, vdi, label })));
    expect(disksAfter.find((d) => d.vm === 'legacy-web01')).toMatchObject({ label: 'legacy-web01 root', mark: 'root' });
    expect(disksAfter.find((d) => d.vm === 'backup-appliance')).toMatchObject({ label: 'backup-appliance data', mark: 'data' });
    expect(disksAfter.filter((d) => d.mark === undefined)).toEqual([]);
  }, 30_000);
});
