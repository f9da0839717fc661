/**
 * Export then plan is empty, with no hand edits, whatever XAPI recorded of a VM's template. On the
 * simulator, xops creates four VMs from templates, then their marks are stripped so the pool looks
 * hand-made, and:
 * - `web` (from a template with no reference_label) loses other_config base_template_name: nothing is
 *   recorded any more, as for a VM imported or made by hand;
 * - `api` loses base_template_name too, but keeps the reference_label its template gave it;
 * - `db`'s template is renamed since, so only reference_label still ties the VM to it;
 * - `app` keeps what VM.clone recorded.
 * XAPI facts pinned here: VM.clone sets other_config base_template_name to the template's name_label
 * unless it is already there, and copies reference_label from the template (xen-api
 * ocaml/xapi/xapi_vm_clone.ml); reference_label is the template reference that survives a rename
 * (ocaml/idl/datamodel_vm.ml: "immutable reference to the template since [its] uuid and name_label
 * may change").
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportManifests } from '../../src/export/index.js';
import { liveInventoryFrom, loadManifests } from '../../src/manifests/index.js';
import type { VMRecord } from '../../src/model/observed.js';
import { takeSnapshot } from '../../src/observe/index.js';
import { planChanges } from '../../src/plan/index.js';
import { DEMO_SEED, startSimulator, type SeedDocument } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';
import { applyFolder, failures, planFolder, REPO, simWithClient } from '../apply/helpers.js';

const execFileP = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/src/cli.js');

/** The demo pool, its Linux templates labelled as a templates package labels them (reference_label); the others not. */
const LABELLED = ['Debian Bookworm 12', 'Ubuntu Jammy Jellyfish 22.04', 'Rocky Linux 9'];
const SEED: SeedDocument = {
  ...DEMO_SEED,
  templates: DEMO_SEED.templates!.map((t) => (LABELLED.includes(t.name_label) ? { ...t, reference_label: t.name_label.toLowerCase().replace(/[^a-z0-9]+/g, '-') } : t)),
};

const vmManifest = (name: string, template: string) => `apiVersion: xops/v1
kind: VM
metadata: {name: ${name}}
spec:
  template: ${template}
  vcpus: 1
  memory: 1GiB
  powerState: halted
  disks:
    - {name: root, size: 10GiB}
  networks:
    - {network: Pool-wide network associated with eth0}
`;

const ADOPT_POLICY = `apiVersion: xops/v1
kind: Policy
metadata: {name: adopt}
spec:
  admission: []
  automation: {adopt: true}
`;

async function writeFiles(dir: string, files: { path: string; content: string }[]): Promise<void> {
  for (const f of files) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true });
    await writeFile(join(dir, f.path), f.content);
  }
}

/** The VM named `name` (a plain VM or a template). */
async function vmNamed(client: XapiClient, name: string, template = false): Promise<[string, VMRecord]> {
  const all = await client.call<Record<string, VMRecord>>('VM.get_all_records');
  const hit = Object.entries(all).find(([, r]) => r.name_label === name && r.is_a_template === template && !r.is_a_snapshot);
  if (!hit) throw new Error(`no VM named ${name}`);
  return hit;
}

/** Removes xops' keys from the VMs and their devices: the pool then looks hand-made. */
async function stripMarks(client: XapiClient): Promise<void> {
  for (const cls of ['VM', 'VDI', 'VBD', 'VIF']) {
    const records = await client.call<Record<string, { other_config?: Record<string, string> }>>(`${cls}.get_all_records`);
    for (const [ref, rec] of Object.entries(records)) {
      for (const key of Object.keys(rec.other_config ?? {})) {
        if (key.startsWith('xops.')) await client.call(`${cls}.remove_from_other_config`, ref, key);
      }
    }
  }
}

async function xops(args: string[], url: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, XOPS_XAPI_URL: url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' };
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, ...args], { cwd, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let env: Awaited<ReturnType<typeof simWithClient>>;
let work: string;
/** The export of the hand-made pool, in a folder of its own. */
let exported: string;

beforeAll(async () => {
  env = await simWithClient({ seed: SEED });
  work = await mkdtemp(join(tmpdir(), 'xops-export-tpl-'));
  const made = join(work, 'made');
  await writeFiles(made, [
    { path: 'vms/web.yaml', content: vmManifest('web', 'Other install media') },
    { path: 'vms/api.yaml', content: vmManifest('api', 'Debian Bookworm 12') },
    { path: 'vms/db.yaml', content: vmManifest('db', 'Rocky Linux 9') },
    { path: 'vms/app.yaml', content: vmManifest('app', 'Ubuntu Jammy Jellyfish 22.04') },
  ]);
  const { result } = await applyFolder(env.client, made);
  expect(failures(result)).toEqual([]);
  await stripMarks(env.client);
  for (const name of ['web', 'api']) await env.client.call('VM.remove_from_other_config', (await vmNamed(env.client, name))[0], 'base_template_name');
  const [rocky] = await vmNamed(env.client, 'Rocky Linux 9', true);
  await env.client.call('VM.set_name_label', rocky, 'Rocky Linux 9 (2024)');
  // Hosts are exported too: one whose name_label is no manifest name, that a VM names as its affinity.
  const host3 = (await env.client.call<Record<string, { name_label: string }>>('host.get_all_records'));
  const [h3] = Object.entries(host3).find(([, h]) => h.name_label === 'xcp-host3')!;
  await env.client.call('host.set_name_label', h3, 'Rack 3 host');
  await env.client.call('VM.set_affinity', (await vmNamed(env.client, 'app'))[0], h3);

  exported = join(work, 'exported');
  await writeFiles(exported, exportManifests(await takeSnapshot(env.client)).files);
}, 60_000);
afterAll(async () => {
  await env?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('export of VMs, whatever XAPI recorded of their template', () => {
  it('writes the recorded template, the one reference_label finds, and no template line when nothing is recorded', async () => {
    const [, web] = await vmNamed(env.client, 'web');
    const [, api] = await vmNamed(env.client, 'api');
    const [, db] = await vmNamed(env.client, 'db');
    // The simulator records what XAPI does on clone, and the test took the name away.
    expect([web.other_config['base_template_name'], web.reference_label]).toEqual([undefined, '']);
    expect([api.other_config['base_template_name'], api.reference_label]).toEqual([undefined, 'debian-bookworm-12']);
    expect([db.other_config['base_template_name'], db.reference_label]).toEqual(['Rocky Linux 9', 'rocky-linux-9']);

    const file = (name: string) => readFile(join(exported, `vms/${name}.yaml`), 'utf8');
    expect(await file('app')).toMatch(/^ {2}template: Ubuntu Jammy Jellyfish 22\.04$/m);
    expect(await file('app')).toMatch(/^ {2}host: rack-3-host$/m);
    expect(await readFile(join(exported, 'hosts/rack-3-host.yaml'), 'utf8')).toMatch(/^spec:\n {2}name: Rack 3 host\n/m);
    expect(await file('db')).toMatch(/^ {2}template: Rocky Linux 9 \(2024\)$/m);
    expect(await file('api')).toMatch(/^ {2}template: Debian Bookworm 12$/m);
    expect(await file('web')).not.toMatch(/^ +template:/m);
    expect(await file('web')).toContain('\n# No template: XAPI recorded no template for this VM');
  });

  it('export → plan, unedited: adopts with no changes, and no error for the VM without a template', async () => {
    const dir = join(work, 'plan');
    const observed = await takeSnapshot(env.client);
    await writeFiles(dir, [...exportManifests(observed).files, { path: 'policies/adopt.yaml', content: ADOPT_POLICY }]);
    const { desired, diagnostics } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const plan = planChanges(desired, observed, { repo: REPO });
    expect(plan.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(plan.refused).toEqual([]);
    // The demo's own hand-made objects (its NFS SR, two legacy VMs) are adopted along; the Host manifests plan nothing,
    // and app's affinity names its host by the Host manifest's name, which is not the host's name_label.
    expect(plan.actions.filter((a) => a.operation !== 'adopt' || a.changes.length > 0)).toEqual([]);
    expect(plan.actions.map((a) => a.address)).toEqual(expect.arrayContaining(['VM/api', 'VM/app', 'VM/db', 'VM/web']));
  });

  it('a renamed template is the same template; naming another one still replaces the VM', async () => {
    const dir = join(work, 'other-template');
    const observed = await takeSnapshot(env.client);
    await writeFiles(dir, [...exportManifests(observed).files, { path: 'policies/adopt.yaml', content: ADOPT_POLICY }]);
    const { desired: unedited } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
    expect(planChanges(unedited, observed, { repo: REPO }).actions.filter((a) => a.operation !== 'adopt')).toEqual([]);
    await writeFile(join(dir, 'vms/db.yaml'), (await readFile(join(dir, 'vms/db.yaml'), 'utf8')).replace('Rocky Linux 9 (2024)', 'Debian Bookworm 12'));
    const { desired } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
    const plan = planChanges(desired, observed, { repo: REPO });
    const replace = plan.actions.filter((a) => a.operation === 'replace');
    expect(replace.map((a) => `${a.address} ${JSON.stringify(a.changes.map((c) => [c.path, c.from, c.to]))}`))
      .toEqual(['VM/db [["spec.template","Rocky Linux 9","Debian Bookworm 12"]]']);
  });

  it('adopting the unedited export converges: the next plan is empty, and a manifest without a template still plans its changes', async () => {
    const dir = join(work, 'adopt');
    await writeFiles(dir, [...exportManifests(await takeSnapshot(env.client)).files, { path: 'policies/adopt.yaml', content: ADOPT_POLICY }]);
    const { plan, result } = await applyFolder(env.client, dir);
    expect(plan.actions.filter((a) => a.operation !== 'adopt')).toEqual([]);
    expect(failures(result)).toEqual([]);
    expect((await planFolder(env.client, dir)).plan.actions).toEqual([]);

    const text = await readFile(join(dir, 'vms/web.yaml'), 'utf8');
    await writeFile(join(dir, 'vms/web.yaml'), text.replace(/^ {2}vcpus: 1$/m, '  vcpus: 2'));
    const changed = (await planFolder(env.client, dir)).plan;
    expect(changed.actions.map((a) => `${a.operation} ${a.address} ${a.changes.map((c) => `${c.path} ${c.from}→${c.to}`).join(', ')}`))
      .toEqual(['update VM/web spec.vcpusMax 1→2, spec.vcpus 1→2']);
  });
});

describe('a VM manifest without a template, for a VM that does not exist', () => {
  it('is an error at its file, line and field, exit 1, and neither plan nor apply writes to the pool', async () => {
    // The same exported manifest, against a pool where no VM 'web' exists.
    const dir = join(work, 'create');
    await writeFiles(dir, [{ path: 'vms/web.yaml', content: await readFile(join(exported, 'vms/web.yaml'), 'utf8') }]);
    const text = await readFile(join(dir, 'vms/web.yaml'), 'utf8');
    // The loader places `spec` at its first field: the line after `spec:`.
    const specLine = text.split('\n').indexOf('spec:') + 2;
    const fresh = await startSimulator({ port: 0, multiHost: false, seed: SEED });
    try {
      const vmsBefore = Object.keys(await vmRecords(fresh.url)).length;
      // plan writes nothing; apply holds the pool's lease (a key in pool other_config) while it plans, and writes nothing else.
      for (const [args, allowed] of [[['plan', dir], []], [['apply', dir, '--yes'], ['pool.add_to_other_config', 'pool.remove_from_other_config']]] as const) {
        const callsBefore = await simCalls(fresh.url);
        const { code, stderr } = await xops([...args], fresh.url, work);
        expect(code).toBe(1);
        expect(stderr.split('\n')[0]).toBe(`vms/web.yaml:${specLine}:3: VM/web: spec.template: spec.template is needed to create VM 'web': no such VM exists in the pool; name the template to clone (its name_label or uuid)`);
        const writes = Object.keys(diff(await simCalls(fresh.url), callsBefore)).filter((m) => !isRead(m));
        expect(writes.filter((m) => !(allowed as readonly string[]).includes(m))).toEqual([]);
      }
      expect(Object.keys(await vmRecords(fresh.url)).length).toBe(vmsBefore);
    } finally {
      await fresh.stop();
    }
  });
});

/** Calls that change nothing: logins, event waits and getters. */
const isRead = (method: string) => /^(session\.|event\.)|\.get_/.test(method);

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).filter(([m, n]) => n !== (before[m] ?? 0)));
}

async function simCalls(url: string): Promise<Record<string, number>> {
  const res = await fetch(new URL('/_sim/stats', url));
  return ((await res.json()) as { calls: Record<string, number> }).calls;
}

async function vmRecords(url: string): Promise<Record<string, VMRecord>> {
  const client = await XapiClient.connect({ url, user: 'root', password: 'xops' });
  try {
    return await client.call<Record<string, VMRecord>>('VM.get_all_records');
  } finally {
    await client.close();
  }
}
