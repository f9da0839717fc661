/**
 * A rotated SR credential through the warm path: `xops plan --server` must plan it as the cold plan
 * and the controller's own reconcile do (an update that sets the new value on xops' XAPI secret), so a
 * pull-request check never shows "no changes" for a commit that will change the pool. The controller
 * reads the secret as it would for a commit (its configuration's rules), only to compare it with the
 * digest xops applied; the value itself appears in no answer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../src/config/index.js';
import type { RunningController } from '../../src/controller/controller.js';
import type { Plan } from '../../src/model/plan.js';
import { LocalSource } from '../../src/source/local-source.js';
import { cleanEnv, xops } from '../cli/helpers.js';
import { startTestController, startWorld, stopWorld, type World } from '../e2e/helpers.js';
import { writeTokenConfig } from './token-config.js';

const TOKEN = 'warm-credentials-token-0123456789';
const SECRET = 'XOPS_SECRET_PLAN_API_TEST_PW';
let w: World;
let controller: RunningController;
let work: string;
let dir: string;
let configFile: string;

const sr = `apiVersion: xops/v1
kind: SR
metadata: {name: rotated}
spec:
  type: smb
  shared: true
  deviceConfig:
    server: //nas/rotated
    username: svc
    password: {secretRef: {env: ${SECRET}}}
`;

beforeAll(async () => {
  w = await startWorld();
  work = mkdtempSync(join(tmpdir(), 'xops-warm-credentials-'));
  ({ configFile } = writeTokenConfig(work, TOKEN));
  dir = join(work, 'manifests');
  mkdirSync(dir);
  writeFileSync(join(dir, 'sr.yaml'), sr);
  // Applied before the controller takes the pool's lease: the SR and xops' secret with the first value.
  const applied = await xops(['apply', dir, '--yes', '--config', configFile], { env: env('first-Passw0rd') });
  expect(applied.code, applied.stderr).toBe(0);
  const empty = join(work, 'empty');
  mkdirSync(empty);
  controller = await startTestController(w, new LocalSource({ dir: empty }), { config: await loadControllerConfig(configFile) });
});
afterAll(async () => {
  delete process.env[SECRET];
  await stopWorld(w);
  if (work) rmSync(work, { recursive: true, force: true });
});

const env = (password: string) => cleanEnv({ XOPS_XAPI_URL: w.sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1', [SECRET]: password });

describe('xops plan --server with a rotated SR password', () => {
  it('plans the credential change the cold plan plans, without the value', async () => {
    // The controller runs in this process: it reads the rotated value where a reconcile would.
    process.env[SECRET] = 'second-Passw0rd';
    const cold = await xops(['plan', dir, '--out', 'json', '--config', configFile], { env: env('second-Passw0rd') });
    const warm = await xops(['plan', dir, '--out', 'json', '--server', controller.url, '--config', configFile], { env: cleanEnv({ NO_COLOR: '1' }) });
    expect(warm.stderr).toBe('');
    const coldPlan = JSON.parse(cold.stdout) as Plan;
    const warmPlan = JSON.parse(warm.stdout) as Plan;
    expect(coldPlan.actions.map((a) => a.id)).toEqual(['update:SR/rotated']);
    expect(warmPlan.actions).toEqual(coldPlan.actions);
    expect(warm.stdout).toContain('(credential changed)');
    expect(warm.stdout).not.toContain('Passw0rd');
    // Back to the applied value: nothing to do, through the controller too.
    process.env[SECRET] = 'first-Passw0rd';
    const same = await xops(['plan', dir, '--out', 'json', '--server', controller.url, '--config', configFile], { env: cleanEnv({ NO_COLOR: '1' }) });
    expect((JSON.parse(same.stdout) as Plan).actions).toEqual([]);
  });

  it('xops diff, cold and through the controller, plans the rotation at both commits (so the change does not introduce it)', async () => {
    const repo = join(work, 'repo');
    mkdirSync(repo);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: cleanEnv({ GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' }) });
    git('init', '--quiet', '--initial-branch', 'main');
    writeFileSync(join(repo, 'sr.yaml'), sr);
    git('add', '-A');
    git('commit', '--quiet', '-m', 'base');
    writeFileSync(join(repo, 'sr.yaml'), sr.replace('username: svc', 'username: svc # who mounts it'));
    git('commit', '--quiet', '-am', 'head');
    process.env[SECRET] = 'second-Passw0rd';
    const args = ['diff', repo, '--base', 'HEAD~1', '--head', 'HEAD', '--out', 'json', '--config', configFile];
    const cold = await xops(args, { env: env('second-Passw0rd') });
    const warm = await xops([...args, '--server', controller.url], { env: cleanEnv({ NO_COLOR: '1' }) });
    process.env[SECRET] = 'first-Passw0rd';
    expect(cold.stderr).toBe('');
    expect(warm.stderr).toBe('');
    const shown = (text: string) => (JSON.parse(text) as Plan).actions.map((a) => `${a.id} introduced=${a.introduced}`);
    expect(shown(cold.stdout)).toEqual(['update:SR/rotated introduced=false']);
    expect(shown(warm.stdout)).toEqual(shown(cold.stdout));
  });
});
