/**
 * `xops export` as an operator runs it: the built CLI in a child process against the simulator's demo
 * pool, then `xops validate` and `xops plan` on what it wrote, following the steps it prints.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summary } from '../../src/cli/export-command.js';
import type { Plan } from '../../src/model/plan.js';
import { startSimulator } from '../../src/sim/index.js';

const execFileP = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');

let sim: Awaited<ReturnType<typeof startSimulator>>;
let env: NodeJS.ProcessEnv;
let work: string;

async function xops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, ...args], { cwd: work, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  env = { ...process.env, XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' };
  work = await mkdtemp(join(tmpdir(), 'xops-export-cli-'));
});
afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('xops export', () => {
  it('writes one manifest per object plus the schemas, and says what to do next', async () => {
    const { code, stdout, stderr } = await xops(['export', '--dir', 'demo']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(await tree(join(work, 'demo'))).toEqual([
      'hosts/xcp-host1.yaml', 'hosts/xcp-host2.yaml', 'hosts/xcp-host3.yaml',
      'pool.yaml', 'schemas/host.schema.json', 'schemas/pool.schema.json', 'schemas/sr.schema.json', 'schemas/vm.schema.json',
      'storage/pool-nfs.yaml', 'vms/backup-appliance.yaml', 'vms/legacy-web01.yaml',
    ]);
    // The hosts' local storage is theirs: protected, so not exported.
    expect(stdout).toContain("left out (XAPI's own): 3 host-local SRs, 1 tools SR, 3 control domains, 5 templates");
    expect(stdout).toContain("exported 7 manifests from pool 'demo' to demo: Pool 1, Host 3, Network 0, SR 1, Disk 0, VM 2, VMAppliance 0");
    // The demo's hand-made VMs have no recorded template: a note, not a to-do (it matters only to create them again).
    expect(stdout).toMatch(/^notes:\n(.*\n)*  vms\/legacy-web01\.yaml: VM\/legacy-web01: spec\.template: XAPI recorded no template for this VM/m);
    expect(stdout).not.toMatch(/^to do before adopting/m);
    expect(stdout).toMatch(/conflict[\s\S]*automation: \{adopt: true\}/);
  });

  it('what it wrote validates without a hand edit: the VMs without a recorded template need none', async () => {
    const { code, stderr } = await xops(['validate', 'demo', '--offline']);
    expect(code).toBe(0);
    // Offline, the references to pool objects (networks, SRs) are warnings; nothing else is said.
    expect(stderr.trim().split('\n').filter((l) => !l.includes(': warning: '))).toEqual([]);
    expect(stderr).not.toContain('spec.template');
  });

  it('never overwrites: a second export refuses, naming the files, and changes nothing; --force overwrites', async () => {
    const file = join(work, 'demo/pool.yaml');
    await writeFile(file, '# edited by hand\n');
    const refused = await xops(['export', '--dir', 'demo']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^xops: refusing to overwrite 7 existing file\(s\) in demo: pool\.yaml, hosts\/xcp-host1\.yaml, .*, storage\/pool-nfs\.yaml, .*--force\)\n$/);
    expect(await readFile(file, 'utf8')).toBe('# edited by hand\n');
    const forced = await xops(['export', '--dir', 'demo', '--force']);
    expect(forced.code).toBe(0);
    expect(await readFile(file, 'utf8')).toContain('kind: Pool');
  });

  it.each([
    { why: 'an unknown kind', args: ['--kinds', 'VM,Template'], message: "xops: --kinds: 'Template' is not one of Pool, Host, Network, SR, Disk, VM, VMAppliance, SnapshotSchedule, VMGroup" },
    { why: 'a folder given as a positional', args: ['demo'], message: "xops: export takes no positional arguments (use --dir DIR), got demo (see 'xops export --help')" },
  ])('refuses $why with one line', async ({ args, message }) => {
    const { code, stderr } = await xops(['export', ...args]);
    expect(code).toBe(1);
    expect(stderr.split('\n')[0]).toBe(message);
  });

  it('following the printed steps: plan shows conflicts, and with the adopt policy only adopt actions', async () => {
    const { code } = await xops(['export', '--dir', 'storage-only', '--kinds', 'sr,pool']);
    expect(code).toBe(0);
    expect(await tree(join(work, 'storage-only'))).not.toContain('vms/legacy-web01.yaml');
    const conflicts = await xops(['plan', 'storage-only', '--out', 'json']);
    expect(conflicts.code).toBe(1);
    expect(conflicts.stderr).toContain("SR/pool-nfs: an unmanaged SR named 'pool-nfs' already exists");
    await mkdir(join(work, 'storage-only/policies'));
    await writeFile(join(work, 'storage-only/policies/adopt.yaml'), 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: adopt}\nspec:\n  admission: []\n  automation: {adopt: true}\n');
    // The operator's limits are a ceiling over the repository's policy.
    const limited = await xops(['plan', 'storage-only', '--out', 'json']);
    expect(limited.code).toBe(1);
    expect(limited.stderr).toContain("raise the operator's limit (limits.adopt in the operator's configuration, or --allow-adopt)");
    const adopt = await xops(['plan', 'storage-only', '--out', 'json', '--allow-adopt']);
    expect(adopt.stderr).toBe('');
    const plan = JSON.parse(adopt.stdout) as Plan;
    expect(plan.actions.map((a) => `${a.operation} ${a.address}`).sort()).toEqual([
      'adopt SR/pool-nfs',
    ]);
  });
});

describe('the summary', () => {
  it('shows at most 20 notes of one kind and counts the rest, so a big pool does not flood the terminal', () => {
    const notes = Array.from({ length: 25 }, (_, i) => ({ severity: 'warning' as const, code: 'template-unknown', message: `fill in ${i}`, file: `vms/vm-${i}.yaml` }));
    notes.push({ severity: 'warning', code: 'secret', message: 'set it', file: 'storage/a.yaml' });
    const text = summary({ files: [], notes, skipped: {} }, 'out', 'demo');
    expect(text).toContain('to do before adopting (26):');
    expect(text).toContain('vms/vm-19.yaml: warning: fill in 19');
    expect(text).not.toContain('vm-20.yaml');
    expect(text).toContain("  ... and 5 more 'template-unknown' notes like these");
    expect(text).toContain('storage/a.yaml: warning: set it');
  });
});
