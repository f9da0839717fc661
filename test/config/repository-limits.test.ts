/**
 * What one commit may hold is the operator's to set (`repository:` in the configuration), never the
 * repository's: a pool of 50,000 VMs needs more than the defaults allow, and a careful operator may
 * want less. The cold plan and the controller's plan API both read it.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseControllerConfig } from '../../src/config/index.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { ROOT, cleanEnv, xops } from '../cli/helpers.js';

const HEAD = 'apiVersion: xops/v1\nkind: ControllerConfig\n';
let sim: Simulator;
let work: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  work = mkdtempSync(join(tmpdir(), 'xops-repo-limits-'));
});
afterAll(async () => {
  await sim.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('repository limits from the operator configuration', () => {
  it('are read, and a wrong value is refused naming file, line and field', () => {
    expect(parseControllerConfig(HEAD + 'repository:\n  maxFiles: 50000\n  maxNodes: 5000000\n', 'c.yaml').repository).toEqual({ maxFiles: 50000, maxNodes: 5000000 });
    expect(parseControllerConfig(HEAD, 'c.yaml').repository).toEqual({});
    let err: unknown;
    try {
      parseControllerConfig(HEAD + 'repository:\n  maxFiles: 0\n', 'c.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^c\.yaml:4:13: repository\.maxFiles: must be >= 1/);
  });

  it('bound the cold plan: a repository over the configured count is refused, and nothing is planned', async () => {
    const dir = join(work, 'examples');
    cpSync(join(ROOT, 'examples'), dir, { recursive: true });
    const config = join(work, 'small.yaml');
    writeFileSync(config, HEAD + 'repository:\n  maxFiles: 3\n');
    const env = cleanEnv({ XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' });
    const refused = await xops(['plan', dir, '--config', config], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/manifest files is more than the limit of 3/);
    expect(refused.stdout).toBe('');
    const plain = await xops(['plan', dir], { env });
    expect(plain.stderr).not.toMatch(/more than the limit/);
    // validate and apply read the same limits; apply changes nothing.
    const validate = await xops(['validate', dir, '--config', config], { env });
    expect(validate.code).toBe(1);
    expect(validate.stderr + validate.stdout).toMatch(/more than the limit of 3/);
    const vmsBefore = [...sim.db.all('VM')].length;
    const apply = await xops(['apply', dir, '--yes', '--config', config], { env });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toMatch(/more than the limit of 3/);
    expect([...sim.db.all('VM')].length).toBe(vmsBefore);
    // Per pool of a fleet configuration as well.
    const password = join(work, 'password');
    writeFileSync(password, 'xops\n');
    const fleet = join(work, 'fleet.yaml');
    writeFileSync(fleet, HEAD + `repository:\n  maxFiles: 3\npools:\n  - name: demo\n    xapi: ${sim.url}\n    user: root\n    passwordFile: ${password}\n    paths: ['.']\n`);
    const perPool = await xops(['plan', dir, '--config', fleet], { env: cleanEnv({ NO_COLOR: '1' }) });
    expect(perPool.code).toBe(1);
    expect(perPool.stderr).toMatch(/more than the limit of 3/);
  });
});
