import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/cli/errors.js';
import { run } from '../../src/cli/run-command.js';
import { ConfigError, parseControllerConfig } from '../../src/config/index.js';
import { fairShare, poolsAboveShare } from '../../src/fleet/fair-share.js';
import { withPoolLabel } from '../../src/fleet/http.js';
import { selectFiles } from '../../src/fleet/pool-source.js';
import { loadManifestFiles } from '../../src/manifests/loader.js';

const head = 'apiVersion: xops/v1\nkind: ControllerConfig\n';
const pool = (name: string, extra = '') => `  - name: ${name}\n    xapi: https://${name}.example\n    user: root\n    passwordFile: secrets/${name}\n    paths: [common, pools/${name}]\n${extra}`;

describe('pools in the operator configuration', () => {
  it('reads each pool with its paths, credentials and limits; relative files resolve against the configuration', () => {
    const config = parseControllerConfig(`${head}limits: {adopt: true}\npools:\n${pool('prod-eu', '    ca: ca/eu.pem\n    limits: {adopt: false, prune: true}\n')}${pool('lab').replace('passwordFile: secrets/lab', 'passwordEnv: LAB_PASSWORD')}`, '/etc/xops/config.yaml');
    expect(config.pools).toEqual([
      { name: 'prod-eu', xapi: 'https://prod-eu.example', user: 'root', passwordFile: '/etc/xops/secrets/prod-eu', ca: '/etc/xops/ca/eu.pem', paths: ['common', 'pools/prod-eu'], limits: { adopt: false, prune: true } },
      { name: 'lab', xapi: 'https://lab.example', user: 'root', passwordEnv: 'LAB_PASSWORD', paths: ['common', 'pools/lab'] },
    ]);
  });

  it.each([
    { why: 'the same pool twice', text: `pools:\n${pool('a')}${pool('a')}`, message: /config\.yaml:9:\d+: pools\[1\]\.name: pool 'a' is already listed as pools\[0\]/ },
    { why: 'a path leaving the repository', text: `pools:\n${pool('a').replace('[common,', '[../common,')}`, message: /pools\[0\]\.paths\[0\]: '\.\.\/common' must be a folder inside the repository/ },
    { why: 'no password source', text: `pools:\n${pool('a').replace('    passwordFile: secrets/a\n', '')}`, message: /pools\[0\]/ },
    { why: 'no paths', text: `pools:\n${pool('a').replace('    paths: [common, pools/a]\n', '')}`, message: /missing required field 'paths'/ },
  ])('refuses $why in one line naming the field', ({ text, message }) => {
    expect(() => parseControllerConfig(head + text, '/etc/xops/config.yaml')).toThrow(ConfigError);
    expect(() => parseControllerConfig(head + text, '/etc/xops/config.yaml')).toThrow(message);
  });
});

describe("a pool's manifests: the union of its paths", () => {
  const net = (name: string) => Buffer.from(`apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: ${name}\nspec:\n  mtu: 1500\n`);
  const files = [
    { path: 'common/net.yaml', content: net('backend') },
    { path: 'pools/eu/net.yaml', content: net('eu-local') },
    { path: 'pools/eu2/net.yaml', content: net('eu2-local') },
  ];

  it('takes the files under its folders only (pools/eu is not pools/eu2)', () => {
    expect(selectFiles(files, ['common/', 'pools/eu/']).map((f) => f.path)).toEqual(['common/net.yaml', 'pools/eu/net.yaml']);
  });

  it('names both files when the same Kind/name comes from two of its folders', () => {
    const clash = [...files, { path: 'pools/eu/backend.yaml', content: net('backend') }];
    const result = loadManifestFiles(selectFiles(clash, ['common/', 'pools/eu/']), '.');
    const dup = result.diagnostics.find((d) => d.code === 'duplicate-name');
    expect(dup?.message).toMatch(/Network 'backend' is declared twice \(first at common\/net\.yaml:/);
    expect(dup?.location?.file).toBe('pools/eu/backend.yaml');
  });
});

describe('fair share of the pools between replicas', () => {
  it('gives every replica at most the ceiling of an even split, so a newcomer gets work', () => {
    expect(fairShare(4, 1)).toBe(4);
    expect(fairShare(4, 2)).toBe(2);
    expect(fairShare(5, 2)).toBe(3);
    expect(fairShare(20, 3)).toBe(7);
    expect(fairShare(3, 0)).toBe(3);
  });

  it('releases the pools above the share, the same ones whatever order they are listed in', () => {
    expect(poolsAboveShare(['p3', 'p0', 'p2', 'p1'], 2)).toEqual(['p2', 'p3']);
    expect(poolsAboveShare(['p1', 'p0'], 2)).toEqual([]);
  });
});

describe('metrics of many pools in one exposition', () => {
  it('labels every sample with its pool, escaping the name', () => {
    expect(withPoolLabel('xops_lease_held 1', 'eu')).toBe('xops_lease_held{pool="eu"} 1');
    expect(withPoolLabel('xops_actions_total{result="success"} 3', 'eu')).toBe('xops_actions_total{pool="eu",result="success"} 3');
    expect(withPoolLabel('x_bucket{le="0.5"} 2', 'a"b')).toBe('x_bucket{pool="a\\"b",le="0.5"} 2');
  });
});

describe('xops run with a fleet configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xops-fleet-args-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), `${head}pools:\n${pool('a')}`);

  it.each(['--xapi', '--path'])('refuses %s, a one-pool flag, when the configuration lists pools', async (flag) => {
    const failure = await run(['--config', join(dir, 'config.yaml'), '--repo', dir, flag, flag === '--xapi' ? 'https://x' : 'pools/a']).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as Error).message).toMatch(new RegExp(`${flag}: the configuration lists pools`));
  });
});

describe('several simulated pools in one process (xops sim --pools N)', () => {
  it('gives each pool its own name and address, and a change in one is not seen in another', async () => {
    const { startSimulators } = await import('../../src/sim/index.js');
    const sims = await startSimulators(3, { port: 0, seed: 'empty' });
    try {
      expect(sims.map((s) => s.db.record(s.poolRef).name_label)).toEqual(['pool-1', 'pool-2', 'pool-3']);
      expect(new Set(sims.map((s) => s.url)).size).toBe(3);
      sims[0]!.db.create('network', { name_label: 'only-in-1' });
      expect(sims.map((s) => s.db.findByName('network', 'only-in-1').length)).toEqual([1, 0, 0]);
    } finally {
      await Promise.all(sims.map((s) => s.stop()));
    }
  });
});

describe('one repository read for many pools', () => {
  it('shares fetches between pools, but never answers a caller with a snapshot read before it asked', async () => {
    const { SharedSource } = await import('../../src/fleet/pool-source.js');
    let fetches = 0;
    const gates: (() => void)[] = [];
    const base = {
      description: 'fake',
      sync: () => new Promise<{ commit: string; files: [] }>((resolve) => {
        const n = ++fetches;
        gates.push(() => resolve({ commit: `c${n}`, files: [] }));
      }),
      close: async () => undefined,
    };
    const shared = new SharedSource(base);
    const first = shared.sync();
    const [second, third] = [shared.sync(), shared.sync()]; // asked while fetch 1 runs
    expect(fetches).toBe(1);
    gates.shift()!();
    expect((await first).commit).toBe('c1');
    await new Promise((r) => setImmediate(r));
    expect(fetches).toBe(2); // one more fetch for both late callers
    gates.shift()!();
    expect([(await second).commit, (await third).commit]).toEqual(['c2', 'c2']);
  });
});
