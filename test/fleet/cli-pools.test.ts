import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../src/cli/errors.js';
import { run as apply } from '../../src/cli/apply-command.js';
import { run as diff } from '../../src/cli/diff-command.js';
import { run as plan } from '../../src/cli/plan-command.js';
import { run as report } from '../../src/cli/report-command.js';
import { run as validate } from '../../src/cli/validate-command.js';
import { LEASE_KEY } from '../../src/controller/lease.js';
import { startSimulators, type Simulator } from '../../src/sim/index.js';

// `xops apply|diff|report --config FILE [--pool NAME]`: each pool from the union of its paths against
// its own simulated pool, as the single-pool commands do for one.
const network = (name: string, mtu = 1500) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: ${mtu}\n`;
let sims: Simulator[];
let dir: string;
let repo: string;
let config: string;

const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } }).trim();
function write(path: string, text: string): void {
  mkdirSync(join(repo, path, '..'), { recursive: true });
  writeFileSync(join(repo, path), text);
}
const mtuOf = (sim: Simulator, name: string) => {
  const [net] = sim.db.findByName('network', name);
  return net ? Number(sim.db.record(net.ref).MTU) : undefined;
};

beforeAll(async () => {
  sims = await startSimulators(2, { port: 0, seed: 'empty' });
  dir = mkdtempSync(join(tmpdir(), 'xops-cli-pools-'));
  repo = join(dir, 'repo');
  mkdirSync(repo);
  git('init', '-q', '-b', 'main');
  write('common/backend.yaml', network('backend'));
  write('pools/a/a.yaml', network('a-only'));
  write('pools/b/b.yaml', network('b-only'));
  git('add', '-A');
  git('commit', '-qm', 'base');
  config = join(dir, 'config.yaml');
  const pool = (name: string, sim: Simulator) => `  - {name: ${name}, xapi: '${sim.url}', user: root, passwordEnv: XOPS_TEST_FLEET_PW, paths: [common, pools/${name}]}\n`;
  writeFileSync(config, `apiVersion: xops/v1\nkind: ControllerConfig\npools:\n${pool('a', sims[0]!)}${pool('b', sims[1]!)}`);
  process.env.XOPS_TEST_FLEET_PW = 'xops';
});
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** Every pool applied at the working tree, so a test starts from pools that match it. */
async function converge(): Promise<void> {
  const r = await output(apply, [repo, '--config', config, '--yes', '--log-format', 'json']);
  expect(r.code, r.err).toBe(0);
}

/** Runs a command in-process, capturing stdout and stderr. */
async function output(command: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    return { code: await command(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('xops apply across the pools of a configuration', () => {
  it('applies only the pools named with --pool, each from its own paths, and releases their leases', async () => {
    const r = await output(apply, [repo, '--config', config, '--pool', 'b', '--yes', '--log-format', 'json']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^== pool b ==$/m);
    expect(r.out).not.toMatch(/== pool a ==/);
    expect([mtuOf(sims[1]!, 'backend'), mtuOf(sims[1]!, 'b-only'), mtuOf(sims[1]!, 'a-only')]).toEqual([1500, 1500, undefined]);
    expect(sims[0]!.db.findByName('network', 'backend')).toEqual([]);
    expect(Object.keys(sims[1]!.db.record(sims[1]!.poolRef).other_config as object)).not.toContain(LEASE_KEY);
  });

  it('leaves a pool another writer holds the lease of alone, names the holder, and still applies the others', async () => {
    sims[1]!.db.set(sims[1]!.poolRef, 'other_config', { [LEASE_KEY]: `controller-elsewhere|${new Date().toISOString()}|${new Date(Date.now() + 600_000).toISOString()}` });
    write('common/backend.yaml', network('backend', 9000));
    try {
      const r = await output(apply, [repo, '--config', config, '--yes', '--log-format', 'json']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^xops: pool b: the pool is locked by controller-elsewhere since /m);
      expect([mtuOf(sims[0]!, 'backend'), mtuOf(sims[0]!, 'a-only'), mtuOf(sims[0]!, 'b-only')]).toEqual([9000, 1500, undefined]);
      expect(mtuOf(sims[1]!, 'backend')).toBe(1500);
    } finally {
      sims[1]!.db.set(sims[1]!.poolRef, 'other_config', {});
      write('common/backend.yaml', network('backend'));
    }
  });

  it('refuses an unknown --pool in one line naming the configured pools, before touching any pool', async () => {
    for (const command of [apply, diff, report]) {
      const argv = command === diff ? ['--base', 'HEAD', '--head', 'HEAD', repo] : command === apply ? [repo, '--yes'] : [repo];
      const failure = await command([...argv, '--config', config, '--pool', 'nope']).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(UserError);
      expect((failure as Error).message).toMatch(/^--pool nope: no such pool in .*config\.yaml \(pools: a, b\)$/);
    }
  });
});

describe('xops diff across the pools of a configuration', () => {
  it('leads the comment with pools × introduced changes × disruption, then one section per pool', async () => {
    await converge();
    const base = git('rev-parse', 'HEAD');
    write('common/backend.yaml', network('backend', 9000));
    write('pools/b/b2.yaml', network('b-second'));
    git('add', '-A');
    git('commit', '-qm', 'head');
    try {
      const r = await output(diff, ['--base', base, '--head', 'HEAD', repo, '--config', config]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^\| pool \| changes \| none \| reboot \| downtime \| destructive \|$/m);
      // What this change introduces over the base, per pool: a gets the MTU, b the MTU and b-second.
      const rows = Object.fromEntries([...r.out.matchAll(/^\| (a|b) \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]));
      expect(rows).toEqual({ a: 1, b: 2 });
      const a = r.out.slice(r.out.indexOf('Pool `a`'), r.out.indexOf('Pool `b`'));
      const b = r.out.slice(r.out.indexOf('Pool `b`'));
      expect(a).not.toContain('b-second');
      expect(b).toContain('b-second');
      expect(r.out.indexOf('| pool |')).toBeLessThan(r.out.indexOf('Pool `a`'));
    } finally {
      git('reset', '-q', '--hard', base);
    }
  });
});

describe('xops report across the pools of a configuration', () => {
  it('reports each pool against its own state: a table of pools × states, then a section per pool; html needs one pool', async () => {
    await converge();
    const r = await output(report, [repo, '--config', config, '--out', 'json']);
    expect(r.code, r.err).toBe(0);
    const reports = JSON.parse(r.out) as { pool: string; report: { summary: Record<string, number>; resources: { address: string; state: string }[] } }[];
    expect(reports.map((x) => x.pool)).toEqual(['a', 'b']);
    const states = (i: number) => Object.fromEntries(reports[i]!.report.resources.map((res) => [res.address, res.state]));
    expect(states(0)).toEqual({ 'Network/backend': 'synced', 'Network/a-only': 'synced' });
    expect(states(1)).toEqual({ 'Network/backend': 'synced', 'Network/b-only': 'synced' });
    const md = await output(report, [repo, '--config', config]);
    expect(md.out).toMatch(/^\| pool \| synced \| undeclared \| unmanaged \|$/m);
    expect(md.out).toMatch(/^\| a \| 2 \| 0 \| \d+ \|$/m);
    const html = await report([repo, '--config', config, '--out', 'html']).catch((e: unknown) => e);
    expect((html as Error).message).toMatch(/--out html is one page per pool: choose one with --pool \(pools: a, b\)/);
  });
});

describe('each pool folder\'s Pool manifest carries the pool\'s name', () => {
  it('fails validate and plan for the pool whose folder holds a Pool manifest named otherwise, at its file and line', async () => {
    write('pools/b/pool.yaml', 'apiVersion: xops/v1\nkind: Pool\nmetadata:\n  name: a\nspec: {}\n');
    try {
      const v = await output(validate, [repo, '--config', config, '--offline', '--out', 'json']);
      const results = JSON.parse(v.out) as { pool: string; ok: boolean; diagnostics: { code: string; message: string; location?: { file: string; line: number } }[] }[];
      expect(v.code).toBe(1);
      expect(results.map((x) => [x.pool, x.ok])).toEqual([['a', true], ['b', false]]);
      const d = results[1]!.diagnostics.find((x) => x.code === 'pool-name')!;
      expect(d.location).toMatchObject({ file: 'pools/b/pool.yaml', line: 4 });
      expect(d.message).toMatch(/named 'a' but is reconciled into the configured pool 'b'/);
      const p = await output(plan, [repo, '--config', config, '--out', 'json']);
      expect(p.code).toBe(1);
      expect((JSON.parse(p.out) as { pool: string }[]).map((x) => x.pool)).toEqual(['a']);
      expect(p.err).toMatch(/pools\/b\/pool\.yaml:4:\d+: Pool\/a: .*configured pool 'b'/);
    } finally {
      rmSync(join(repo, 'pools/b/pool.yaml'));
    }
  });
});

describe('SR credentials across the pools of a configuration', () => {
  // As `xops plan`/`apply` for one pool: a rotated password is planned and applied, not left for the controller.
  it('plans a rotated SMB password for the pool that declares it, and apply rotates the secret', async () => {
    const variable = 'XOPS_SECRET_FLEET_SMB_PW';
    write('pools/a/smb.yaml', 'apiVersion: xops/v1\nkind: SR\nmetadata: {name: fleet-smb}\nspec:\n  type: smb\n  shared: true\n  deviceConfig:\n' +
      `    server: //nas/fleet\n    username: svc\n    password: {secretRef: {env: ${variable}}}\n`);
    const secretValues = () => [...sims[0]!.db.all('secret')].map((o) => String(o.rec.value));
    try {
      process.env[variable] = 'first-fleet-password';
      expect((await output(apply, [repo, '--config', config, '--pool', 'a', '--yes', '--log-format', 'json'])).code).toBe(0);
      expect(secretValues().length).toBeGreaterThan(0);
      expect(new Set(secretValues())).toEqual(new Set(['first-fleet-password']));

      process.env[variable] = 'second-fleet-password';
      const planned = await output(plan, [repo, '--config', config, '--pool', 'a']);
      expect(planned.out).toContain('update SR/fleet-smb');
      expect(planned.out).toContain('(credential changed)');
      expect(planned.out + planned.err).not.toContain('second-fleet-password');
      expect((await output(apply, [repo, '--config', config, '--pool', 'a', '--yes', '--log-format', 'json'])).code).toBe(0);
      expect(new Set(secretValues())).toEqual(new Set(['second-fleet-password']));
      expect((await output(plan, [repo, '--config', config, '--pool', 'a'])).out).not.toContain('SR/fleet-smb');
    } finally {
      delete process.env[variable];
    }
  });
});
