/**
 * cloudInit as an operator meets it: the built CLI in child processes against the simulator. `xops apply`
 * creates the VM with its drive (user-data from a file in the folder); `xops plan --out json` then shows what
 * its guest reports (`guests`), and after an edit of the file plans nothing and says the change needs a replace.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Plan } from '../../src/model/plan.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { cleanEnv, xops } from '../cli/helpers.js';

let sim: Simulator;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  env = cleanEnv({ XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' });
  dir = await mkdtemp(join(tmpdir(), 'xops-ci-cli-'));
  await mkdir(join(dir, 'cloud-init'));
  await writeFile(join(dir, 'cloud-init/app.user-data'), '#cloud-config\nhostname: app-07\n');
  await writeFile(join(dir, 'app.yaml'), `apiVersion: xops/v1
kind: VM
metadata: {name: app-07, labels: {owner: ops}}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: 1GiB
  networks: [{network: Pool-wide network associated with eth0}]
  cloudInit:
    userData: {file: cloud-init/app.user-data}
    networkConfig: {version: 2, ethernets: {eth0: {addresses: [172.20.0.7/24]}}}
`);
});
afterAll(async () => {
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('apply writes the drive (user-data from a file not named *.yaml, which would be a manifest); plan --out json shows the address the guest reports, then an edit only warns', async () => {
  const applied = await xops(['apply', dir, '--yes'], { env });
  expect(applied.code, applied.stderr).toBe(0);
  expect(applied.stderr).toContain('uploading the cloud-init config drive');
  expect(applied.stdout).toMatch(/^Apply complete: 1 succeeded, 0 failed/m);

  const planned = await xops(['plan', dir, '--out', 'json', '--detailed-exitcode'], { env });
  expect(planned.code).toBe(0);
  const plan = JSON.parse(planned.stdout) as Plan;
  expect(plan.actions).toEqual([]);
  expect(plan.guests).toEqual({ 'VM/app-07': { addresses: ['172.20.0.7'] } });

  await writeFile(join(dir, 'cloud-init/app.user-data'), '#cloud-config\nhostname: app-08\n');
  const edited = await xops(['plan', dir, '--detailed-exitcode'], { env });
  expect(edited.code).toBe(0);
  expect(edited.stdout + edited.stderr).toMatch(/app\.yaml:\d+:\d+: VM\/app-07: spec\.cloudInit: .*takes effect only when the VM is replaced/);
});
