/**
 * The shipped examples and schemas, as an operator meets them: `xops validate examples` in a child
 * process against the simulator's demo pool, editors' modelines, and schema files in step with code.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative, resolve, dirname } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/sim/index.js';
import { loadManifestFiles, loadManifests, liveInventoryFrom } from '../../src/manifests/index.js';
import { renderSchemas } from '../../src/manifests/write-schemas.js';
import { checkAdmission } from '../../src/policy/index.js';
import { takeSnapshot } from '../../src/observe/snapshot.js';
import { XapiClient } from '../../src/xapi/client.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'examples');
const CLI = join(ROOT, 'dist/src/cli.js');

let sim: Awaited<ReturnType<typeof startSimulator>>;
let env: NodeJS.ProcessEnv;

async function xops(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...env, ...extraEnv } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.ya?ml$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  // Start from a clean environment so a developer's XOPS_XAPI_URL cannot change the outcome.
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XOPS_')));
});
afterAll(async () => {
  await sim?.stop();
});

describe('examples', () => {
  it('load without a problem and declare the documented repository', async () => {
    const { desired, diagnostics } = await loadManifests(EXAMPLES);
    expect(diagnostics).toEqual([]);
    expect(desired.pool?.spec.defaultSR).toEqual({ name: 'pool-nfs', target: 'live', checked: false });
    expect(desired.networks.map((n) => n.meta.name)).toEqual(['prod-vlan100', 'storage-bond']);
    expect(desired.srs.map((s) => [s.meta.name, s.spec.type])).toEqual([['nfs-backups', 'nfs'], ['smb-archive', 'smb']]);
    // A standalone data disk, attached to app-01 by name.
    expect(desired.disks.map((d) => [d.meta.name, d.spec.size / 2 ** 30, d.spec.sr])).toEqual([['app-data', 20, { name: 'nfs-backups', target: 'manifest', checked: true }]]);
    expect(desired.vms.filter((v) => v.spec.attachments).map((v) => [v.meta.name, v.spec.attachments!.map((a) => a.disk.name)])).toEqual([['app-01', ['app-data']]]);
    expect(desired.vms.map((v) => [v.meta.name, v.spec.vcpus, v.spec.memory / 2 ** 30])).toEqual([
      ['app-01', 4, 8],
      ['db-01', 8, 16],
      ['web-03', 2, 2],
      ['web-01', 2, 2],
      ['web-02', 2, 2],
    ]);
    const order = desired.appliances[0].spec.members.map((m) => [m.vm.name, m.startOrder]);
    expect(order).toEqual([['db-01', 0], ['app-01', 1], ['web-01', 2], ['web-02', 2], ['web-03', 2]]);
    expect(desired.vms.every((v) => v.spec.appliance?.name === 'shop')).toBe(true);
    expect(desired.snapshotSchedules.map((s) => [s.meta.name, s.spec.frequency, s.spec.schedule, s.spec.retain])).toEqual([['shop-nightly', 'daily', { min: '30', hour: '2' }, 7]]);
    expect(desired.vmGroups.map((g) => [g.meta.name, g.spec.placement, g.spec.selector])).toEqual([['web-spread', 'anti-affinity', { labels: { tier: 'web' } }]]);
    // SMB credentials come by secretRef, never inline.
    expect(desired.srs[1].spec.deviceConfig.password).toEqual({ secretRef: { env: 'XOPS_SECRET_SMB_ARCHIVE_PASSWORD' } });
  });

  it('resolve every reference against the demo pool and pass their own admission policy', async () => {
    const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
    let live;
    try {
      live = liveInventoryFrom(await takeSnapshot(client));
    } finally {
      await client.close();
    }
    const { desired, diagnostics } = await loadManifests(EXAMPLES, { live });
    expect(diagnostics).toEqual([]);
    const liveRefs = desired.vms.flatMap((v) => [...(v.spec.template ? [v.spec.template] : []), ...v.spec.networks.map((n) => n.network), ...v.spec.disks.flatMap((d) => (d.sr ? [d.sr] : []))]).filter((r) => r.target === 'live');
    expect(liveRefs.length).toBeGreaterThan(0);
    expect(liveRefs.every((r) => r.checked)).toBe(true);
    expect(checkAdmission(desired)).toEqual([]);
  });

  it('carry a yaml-language-server modeline naming the schema of their kind', async () => {
    for (const file of await yamlFiles(EXAMPLES)) {
      const text = await readFile(file, 'utf8');
      const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
      expect(modeline, relative(ROOT, file)).not.toBeNull();
      const schema = JSON.parse(await readFile(resolve(dirname(file), modeline![1]), 'utf8'));
      const kinds = [...text.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1]);
      for (const kind of kinds) expect(schema.properties.kind.const, relative(ROOT, file)).toBe(kind);
    }
  });
});

describe('docs/manifests.md', () => {
  it('shows examples that load without errors (together, as one repository)', async () => {
    const text = await readFile(join(ROOT, 'docs/manifests.md'), 'utf8');
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.includes('apiVersion: xops/v1\nkind:'))
      .filter((b) => !b.includes('# per kind, below')); // the envelope illustration, not a manifest
    expect(blocks.length).toBe(8);
    const files = blocks.map((b, i) => ({ path: `doc-${i}.yaml`, content: Buffer.from(b) }));
    const { diagnostics, desired } = loadManifestFiles(files, 'docs');
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(desired.documents.map((d) => d.kind)).toEqual(['Pool', 'Host', 'Network', 'SR', 'Disk', 'VM', 'VMAppliance', 'Policy']);
  });
});

describe('README.md', () => {
  it('shows one manifest of every resource kind, and they load without errors', async () => {
    const text = await readFile(join(ROOT, 'README.md'), 'utf8');
    const block = text.split('## Manifests')[1]!.match(/```yaml\n([\s\S]*?)```/)![1]!;
    const { diagnostics, desired } = loadManifestFiles([{ path: 'readme.yaml', content: Buffer.from(block) }], '.');
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(desired.documents.map((d) => d.kind)).toEqual(['Pool', 'Host', 'Network', 'SR', 'Disk', 'VM', 'VMAppliance']);
  });
});

describe('schemas/', () => {
  it('match what the loader validates with (regenerate: node dist/src/manifests/write-schemas.js)', async () => {
    for (const [file, text] of renderSchemas()) expect(await readFile(join(ROOT, 'schemas', file), 'utf8'), file).toBe(text);
  });
});

describe('xops validate (child process)', () => {
  it('passes the examples offline, saying references were not checked', async () => {
    const { code, stdout, stderr } = await xops(['validate', 'examples']);
    expect(code).toBe(0);
    // One warning per pool object the examples name (templates, the demo's SR, network and host).
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(line).toMatch(/: warning: (template|SR|network|host) '.+' must exist in the pool; not checked offline( \(used \d+ times\))?$/);
    expect(stdout).toBe('valid: 16 manifests in 15 files; 0 errors, 6 warnings (references to pool objects not checked: offline)\n');
  });

  it('checks references against the pool named by XOPS_XAPI_URL', async () => {
    const pool = { XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops' };
    expect(await xops(['validate', 'examples'], pool)).toEqual({ code: 0, stdout: 'valid: 16 manifests in 15 files; 0 errors, 0 warnings\n', stderr: '' });
    const bad = await xops(['validate', 'test/manifests/corpus/dangling-refs-live'], pool);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("manifests.yaml:12:11: VM/web-01: spec.disks[0].sr: 'pool-nsf' is neither an SR manifest nor an SR in the pool");
  });

  it('prints one line per problem on stderr and exits 1; --out json gives the same diagnostics', async () => {
    const dir = 'test/manifests/corpus/yaml-errors-in-two-files';
    const text = await xops(['validate', dir]);
    expect(text.code).toBe(1);
    expect(text.stderr.trimEnd().split('\n')).toEqual((await readFile(join(ROOT, dir, 'expected.txt'), 'utf8')).trimEnd().split('\n'));
    expect(text.stdout).toMatch(/^invalid: 1 manifest in 1 file; 2 errors, 0 warnings/);
    const json = await xops(['validate', dir, '--out', 'json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ ok: false, summary: { errors: 2, warnings: 0 } });
    expect(report.diagnostics[0]).toMatchObject({ code: 'yaml-syntax', location: { file: 'a.yaml', line: 5 } });
  });

  it('refuses an unknown --out in one line', async () => {
    const { code, stderr } = await xops(['validate', 'examples', '--out', 'xml']);
    expect({ code, stderr }).toEqual({ code: 1, stderr: "xops: --out must be text or json, not 'xml'\n" });
  });
});
