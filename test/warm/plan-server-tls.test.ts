// `plan --server https://…`: a controller behind a TLS-terminating proxy (its own listener is plain
// HTTP). The client loads TLS only for an https URL (remote-plan.ts), so this is the test that the
// https path still plans, trusts the CA Node is given, and refuses a certificate it does not know.
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
import { makeCertificates, startTlsFront, type TlsFront } from '../helpers/tls-front.js';
import { writeTokenConfig } from './token-config.js';

const TOKEN = 'warm-tls-token-0123456789abcdef';
let w: World;
let controller: RunningController;
let front: TlsFront;
let work: string;
let dir: string;
let configFile: string;

beforeAll(async () => {
  w = await startWorld();
  work = mkdtempSync(join(tmpdir(), 'xops-warm-tls-'));
  makeCertificates(work);
  ({ configFile } = writeTokenConfig(work, TOKEN));
  dir = join(work, 'manifests');
  mkdirSync(dir);
  writeFileSync(join(dir, 'net.yaml'), 'apiVersion: xops/v1\nkind: Network\nmetadata: {name: tls-net}\nspec: {mtu: 1500}\n');
  const empty = join(work, 'empty');
  mkdirSync(empty);
  controller = await startTestController(w, new LocalSource({ dir: empty }), { config: await loadControllerConfig(configFile) });
  front = await startTlsFront(work, controller.url);
});
afterAll(async () => {
  await front?.close();
  await stopWorld(w);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('xops plan --server over HTTPS', () => {
  it('plans through a TLS front with the CA Node is told to trust, as over plain HTTP', async () => {
    const plain = await xops(['plan', dir, '--out', 'json', '--server', controller.url, '--config', configFile], { env: cleanEnv({ NO_COLOR: '1' }) });
    const tls = await xops(['plan', dir, '--out', 'json', '--server', front.url, '--config', configFile], { env: cleanEnv({ NO_COLOR: '1', NODE_EXTRA_CA_CERTS: join(work, 'ca.pem') }) });
    expect(tls.stderr).toBe('');
    expect(tls.code).toBe(0);
    const plainPlan = JSON.parse(plain.stdout) as Plan;
    expect(plainPlan.actions.map((a) => a.id)).toEqual(['create:Network/tls-net']);
    expect((JSON.parse(tls.stdout) as Plan).actions).toEqual(plainPlan.actions);
  });

  it('refuses a certificate no trusted CA signed, in one line, and prints no plan', async () => {
    const refused = await xops(['plan', dir, '--out', 'json', '--server', front.url, '--config', configFile], { env: cleanEnv({ NO_COLOR: '1' }) });
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(new RegExp(`--server https://127\\.0\\.0\\.1:\\d+: .*certificate`));
  });
});
