/**
 * `xops report` against the simulator's demo pool, as a user runs it: the built CLI over XML-RPC,
 * manifests in a real Git checkout, a change made behind xops' back through XAPI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComplianceReport } from '../../src/report/compliance.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';
import { cleanEnv, xops } from '../cli/helpers.js';

let sim: Simulator;
let client: XapiClient;
let env: NodeJS.ProcessEnv;
let dir: string;

const VM = (name: string) =>
  `apiVersion: xops/v1\nkind: VM\nmetadata: {name: ${name}}\nspec:\n  description: declared in Git\n  template: Debian Bookworm 12\n  vcpus: 1\n  memory: 1GiB\n  powerState: halted\n`;
const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } }).trim();

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  env = cleanEnv({ XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' });
  dir = await mkdtemp(join(tmpdir(), 'xops-report-'));
  await writeFile(join(dir, 'report-web.yaml'), VM('report-web'));
  await writeFile(join(dir, 'report-db.yaml'), VM('report-db'));
  git('init', '-q', '-b', 'main');
  git('add', '.');
  git('commit', '-qm', 'two VMs');
  const applied = await xops(['apply', dir, '--yes'], { env });
  expect(applied.code, applied.stderr).toBe(0);
});
afterAll(async () => {
  await client?.close();
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function report(format = 'json'): Promise<string> {
  const r = await xops(['report', dir, '--out', format], { env });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

async function vmRef(name: string): Promise<string> {
  const [ref] = await client.call<string[]>('VM.get_by_name_label', name);
  return ref;
}

describe('xops report', () => {
  it('lists exactly the resource changed behind xops as drifted, with the field, at the checkout commit', async () => {
    const before = JSON.parse(await report()) as ComplianceReport;
    expect(before.resources).toEqual([
      { address: 'VM/report-db', state: 'synced' },
      { address: 'VM/report-web', state: 'synced' },
    ]);
    expect(before.commit).toBe(git('rev-parse', 'HEAD'));

    await client.call('VM.set_name_description', await vmRef('report-web'), 'edited by hand');
    const after = JSON.parse(await report()) as ComplianceReport;
    expect(after.resources.filter((r) => r.state !== 'synced')).toEqual([
      { address: 'VM/report-web', state: 'drifted', reason: 'changed outside xops: spec.description', fields: [{ path: 'spec.description', pool: 'edited by hand', manifest: 'declared in Git' }] },
    ]);
    expect(after.summary).toMatchObject({ drifted: 1, synced: 1 });
    // The demo pool's own VMs are there, unmanaged; ours are not among them.
    const unmanagedVms = after.unmanaged.filter((o) => o.cls === 'VM').map((o) => o.name);
    expect(unmanagedVms.length).toBeGreaterThan(0);
    expect(unmanagedVms).not.toContain('report-web');

    const markdown = await report('markdown');
    expect(markdown).toContain('| VM/report-web | drifted | changed outside xops: spec.description | spec.description: edited by hand → declared in Git |');
    expect(markdown).toContain(`- Commit: ${after.commit}`);
    // The pool is untouched: a report changes nothing.
    expect(await client.call('VM.get_name_description', await vmRef('report-web'))).toBe('edited by hand');
  });

  it('lists managed objects no manifest declares, and escapes what the pool names in HTML', async () => {
    await unlink(join(dir, 'report-db.yaml'));
    git('commit', '-qam', 'drop the db manifest');
    const [poolRef] = await client.call<string[]>('pool.get_all');
    await client.call('VM.set_name_label', await unmanagedVm(), '<b>x</b>');
    const r = JSON.parse(await report()) as ComplianceReport;
    expect(r.undeclared).toEqual(['VM/report-db']);
    expect(r.resources.map((x) => x.address)).toEqual(['VM/report-web']);
    expect(r.pool.uuid).toBe(await client.call('pool.get_uuid', poolRef));
    const html = await report('html');
    expect(html).toContain('VM &lt;b&gt;x&lt;/b&gt;');
    expect(html).not.toContain('<b>x</b>');
  });

  it('refuses an unknown format in one line', async () => {
    const r = await xops(['report', dir, '--out', 'pdf'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("xops: --out must be one of markdown, json, html, not 'pdf'");
  });
});

/** A VM of the demo pool itself (not a template, not dom0, without xops' mark). */
async function unmanagedVm(): Promise<string> {
  const vms = await client.call<Record<string, Record<string, unknown>>>('VM.get_all_records');
  const [ref] = Object.entries(vms).find(([, v]) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot && !(v.other_config as Record<string, string>)['xops.managed'])!;
  return ref;
}
