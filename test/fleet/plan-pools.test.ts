import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../src/cli/errors.js';
import { run as plan } from '../../src/cli/plan-command.js';
import { run as validate } from '../../src/cli/validate-command.js';
import { startSimulators, type Simulator } from '../../src/sim/index.js';

// `xops plan --config FILE [--pool NAME]`: each pool planned against its own simulated pool from the
// union of its paths; Markdown leads with the pools × changes × disruption table.
const network = (name: string) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: 1500\n`;
let sims: Simulator[];
let dir: string;
let config: string;

beforeAll(async () => {
  sims = await startSimulators(2, { port: 0, seed: 'empty' });
  dir = mkdtempSync(join(tmpdir(), 'xops-plan-pools-'));
  for (const [path, text] of Object.entries({ 'repo/common/backend.yaml': network('backend'), 'repo/pools/a/a.yaml': network('a-only'), 'repo/pools/b/b.yaml': network('b-only') + '---\n' + network('b-second') })) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  config = join(dir, 'config.yaml');
  const pool = (name: string, sim: Simulator) => `  - {name: ${name}, xapi: '${sim.url}', user: root, passwordEnv: XOPS_TEST_FLEET_PW, paths: [common, pools/${name}]}\n`;
  writeFileSync(config, `apiVersion: xops/v1\nkind: ControllerConfig\npools:\n${pool('a', sims[0]!)}${pool('b', sims[1]!)}`);
  process.env.XOPS_TEST_FLEET_PW = 'xops';
});
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function output(argv: string[], command = plan): Promise<{ code: number; out: string }> {
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  try {
    return { code: await command(argv), out };
  } finally {
    write.mockRestore();
  }
}

describe('xops plan across the pools of a configuration', () => {
  it('renders one section per pool, led in Markdown by a table of pools × changes × disruption', async () => {
    const { code, out } = await output([join(dir, 'repo'), '--config', config, '--out', 'markdown']);
    expect(code).toBe(0);
    expect(out).toMatch(/^\| pool \| changes \| none \| reboot \| downtime \| destructive \|$/m);
    expect(out).toMatch(/^\| a \| 2 \| 2 \| 0 \| 0 \| 0 \|$/m);
    expect(out).toMatch(/^\| b \| 3 \| 3 \| 0 \| 0 \| 0 \|$/m);
    const a = out.slice(out.indexOf('### Pool `a`'), out.indexOf('### Pool `b`'));
    expect(a).toContain('a-only');
    expect(a).not.toContain('b-only');
    expect(out.indexOf('| pool |')).toBeLessThan(out.indexOf('### Pool `a`'));
  });

  it('plans only the pools named with --pool', async () => {
    const { out } = await output([join(dir, 'repo'), '--config', config, '--pool', 'b', '--out', 'json']);
    const plans = JSON.parse(out) as { pool: string; plan: { actions: { address: string }[] } }[];
    expect(plans.map((p) => p.pool)).toEqual(['b']);
    expect(plans[0]!.plan.actions.map((a) => a.address).sort()).toEqual(['Network/b-only', 'Network/b-second', 'Network/backend']);
  });

  it('refuses a pool the configuration does not list, naming the ones it does', async () => {
    const failure = await plan([join(dir, 'repo'), '--config', config, '--pool', 'c']).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as Error).message).toMatch(/--pool c: no such pool in .*config\.yaml \(pools: a, b\)/);
  });
});

describe('xops validate across the pools of a configuration', () => {
  it('checks each pool on its own: a name clash in one pool fails that pool, naming both files', async () => {
    writeFileSync(join(dir, 'repo/pools/b/clash.yaml'), network('backend'));
    try {
      const { code, out } = await output([join(dir, 'repo'), '--config', config, '--out', 'json'], validate);
      const results = JSON.parse(out) as { pool: string; ok: boolean; diagnostics: { code?: string; message: string; location?: { file: string } }[] }[];
      expect(code).toBe(1);
      expect(results.map((r) => [r.pool, r.ok])).toEqual([['a', true], ['b', false]]);
      const dup = results[1]!.diagnostics.find((d) => d.code === 'duplicate-name')!;
      expect(dup.message).toMatch(/Network 'backend' is declared twice \(first at common\/backend\.yaml/);
      expect(dup.location?.file).toBe('pools/b/clash.yaml');
    } finally {
      rmSync(join(dir, 'repo/pools/b/clash.yaml'));
    }
  });
});
