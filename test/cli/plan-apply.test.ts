/**
 * `xops plan` and `xops apply` against the simulator's demo pool, as a user runs them: which
 * stream each thing goes to, the summary's counts, exit codes, colour settings and the size of a
 * Markdown comment.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { ROOT, cleanEnv, xops } from './helpers.js';

let sim: Simulator;
let env: NodeJS.ProcessEnv;
let work: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  env = cleanEnv({ XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' });
  work = await mkdtemp(join(tmpdir(), 'xops-cli-plan-'));
});
afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function examplesCopy(name: string): Promise<string> {
  const dir = join(work, name);
  await cp(join(ROOT, 'examples'), dir, { recursive: true });
  return dir;
}

const VM = (name: string, extra = '') =>
  `apiVersion: xops/v1\nkind: VM\nmetadata: {name: ${name}, labels: {owner: me}}\nspec:\n  template: Debian Bookworm 12\n  vcpus: 1\n  memory: 1GiB\n  powerState: halted\n${extra}`;

describe('problems go to stderr, once; the plan to stdout', () => {
  it('a policy deny: plan and apply print it once, on stderr only', async () => {
    const dir = await examplesCopy('deny');
    const file = join(dir, 'vms/app-01.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace(/^\s*owner: shop-team\n/m, ''));
    const plan = await xops(['plan', dir], { env });
    expect(plan.code).toBe(1);
    expect(plan.stdout).not.toContain('vm-has-owner');
    expect(plan.stderr.match(/rule vm-has-owner/g)).toHaveLength(1);
    expect(plan.stderr.split('\n')[0]).toMatch(/^vms\/app-01\.yaml:\d+:\d+: VM\/app-01: metadata\.labels\.owner: every VM needs an owner label/);

    const apply = await xops(['apply', dir, '--yes'], { env });
    expect(apply.code).toBe(1);
    expect(apply.stdout).toBe('');
    expect(apply.stderr.match(/rule vm-has-owner/g)).toHaveLength(1);
    expect(apply.stderr.trimEnd().split('\n').at(-1)).toBe(`xops: the manifests under ${dir} have errors; nothing was applied`);
  });

  it('an ownership conflict (a manifest naming an unmanaged VM) is on stderr, not after "No changes"', async () => {
    const dir = join(work, 'conflict');
    await mkdir(join(dir, 'vms'), { recursive: true });
    await writeFile(join(dir, 'vms/legacy.yaml'), VM('legacy-web01'));
    const { code, stdout, stderr } = await xops(['plan', dir], { env });
    expect(code).toBe(1);
    expect(stdout).not.toContain('legacy-web01');
    expect(stderr).toMatch(/VM\/legacy-web01: .*unmanaged VM named 'legacy-web01' already exists/);
  });
});

describe('colour', () => {
  it('FORCE_COLOR colours a plan that is not on a terminal; NO_COLOR, even empty, wins', async () => {
    const forced = await xops(['plan', 'examples'], { env: { ...env, NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('\x1b[');
    const empty = await xops(['plan', 'examples'], { env: { ...env, NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(empty.stdout).not.toContain('\x1b[');
  });
});

describe('counts that add up', () => {
  it('adopt actions have their own count; export --out DIR still works, with a deprecation line', async () => {
    const dir = join(work, 'adopt');
    const exported = await xops(['export', '--out', dir, '--kinds', 'sr'], { env });
    expect(exported.code).toBe(0);
    expect(exported.stderr).toBe(`xops: export --out DIR is deprecated; use --dir ${dir}\n`);
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies/adopt.yaml'), 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: adopt}\nspec:\n  admission: []\n  automation: {adopt: true}\n');
    // Adoption is beyond the operator's default limits: --allow-adopt raises them for this run.
    const { code, stdout, stderr } = await xops(['plan', dir, '--allow-adopt'], { env });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // The hosts' local SRs are not exported (they are the hosts'), so only the shared one is adopted.
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(
      'Plan: 0 to create, 0 to update, 1 to adopt, 0 to replace, 0 to delete — 0 need a reboot, 0 cause downtime, 0 destructive',
    );
  });

  it('--detailed-exitcode with only held actions exits 2 and says that apply would change nothing now', async () => {
    const dir = join(work, 'held');
    await mkdir(join(dir, 'vms'), { recursive: true });
    const running = VM('lab-held').replace('halted', 'running');
    await writeFile(join(dir, 'vms/lab.yaml'), running);
    const applied = await xops(['apply', dir, '--yes', '--log-format', 'text'], { env });
    expect(applied.code).toBe(0);
    // --log-format text off a terminal: progress lines for people on stderr, the summary on stdout.
    expect(applied.stderr.split('\n')[0]).toMatch(/^\d\d:\d\d:\d\d INFO  action started action=create:VM\/lab-held attempt=1$/);
    expect(applied.stdout).toMatch(/^Apply complete: 1 succeeded, 0 failed, 0 skipped, 0 held/m);
    // More memory than static_max on a running VM needs a reboot, which this policy wants approved.
    await writeFile(join(dir, 'vms/lab.yaml'), running.replace('memory: 1GiB', 'memory: 2GiB'));
    await writeFile(join(dir, 'policy.yaml'), 'apiVersion: xops/v1\nkind: Policy\nmetadata: {name: careful}\nspec:\n  admission: []\n  automation: {approval: [reboot]}\n');
    const { code, stdout, stderr } = await xops(['plan', dir, '--detailed-exitcode'], { env });
    expect(stdout).toContain('held by careful:');
    expect(stderr).toBe('xops: all 1 planned action(s) are held by policy: apply would change nothing now (exit 2: changes pending)\n');
    expect(code).toBe(2);
  });
});

describe('a Markdown comment fits where it is posted', () => {
  it('--max-bytes keeps the summary, folds the rest and says how to see all', async () => {
    const dir = join(work, 'many');
    await mkdir(join(dir, 'vms'), { recursive: true });
    for (let i = 0; i < 60; i++) await writeFile(join(dir, `vms/vm-${i}.yaml`), VM(`bulk-${String(i).padStart(2, '0')}`));
    const { code, stdout } = await xops(['plan', dir, '--out', 'markdown', '--max-bytes', '4000'], { env });
    expect(code).toBe(0);
    expect(Buffer.byteLength(stdout)).toBeLessThanOrEqual(4000);
    expect(stdout.split('\n')[0]).toBe('### xops plan at `local`');
    expect(stdout).toContain('**60 to create, 0 to update, 0 to replace, 0 to delete — 0 need a reboot, 0 cause downtime, 0 destructive**');
    expect(stdout).toMatch(/> Shortened to fit 4000 bytes: left out \d+ of 60 action rows.*Run `xops plan .* --out text`/);
    const whole = await xops(['plan', dir, '--out', 'markdown'], { env });
    expect(whole.stdout).not.toContain('Shortened');
    expect(whole.stdout.match(/^\| 🟢 /gm)).toHaveLength(60);
  });
});
