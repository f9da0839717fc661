/**
 * SR credentials as XAPI `secret` objects, against the simulator.
 *
 * Which credentials a driver reads from a secret (xapi-project/sm): libs/sm/drivers/SMBSR.py mounts with
 * libs/sm/cifutils.py getCIFCredentials, which reads `password_secret` before `password`; ISOSR uses the `cifs`
 * prefix (`cifspassword_secret`, libs/sm/drivers/ISOSR.py); libs/sm/BaseISCSI.py `load` (lvmoiscsi) reads
 * `chappassword_secret` and `incoming_chappassword_secret`. Each reads the secret when the driver is loaded for
 * an operation such as attach, so a new value takes effect at the next PBD.plug.
 * What XAPI does with them (xen-api): ocaml/xapi/xapi_pbd.ml create gives each new PBD its own copy
 * (xapi_secret.ml duplicate_passwds, UUID_INVALID for an unknown uuid); xapi_sr.ml really_forget destroys the
 * PBDs through Xapi_pbd.destroy, whose clean_out_passwds destroys the copies.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/executor.js';
import { defaultConfig } from '../../src/config/index.js';
import { credentialChanges } from '../../src/config/credentials.js';
import { loadManifests, liveInventoryFrom } from '../../src/manifests/index.js';
import type { Plan } from '../../src/model/plan.js';
import { takeSnapshot } from '../../src/observe/snapshot.js';
import { planChanges } from '../../src/plan/index.js';
import { applyAutomation } from '../../src/policy/index.js';
import { renderMarkdown, renderText } from '../../src/render/index.js';
import type { SecretSource } from '../../src/secrets/index.js';
import { failures, simWithClient } from '../apply/helpers.js';

let env: Awaited<ReturnType<typeof simWithClient>>;
let dir: string;
const secretEnv: Record<string, string | undefined> = {};
const source = (): SecretSource => ({ env: secretEnv, baseDir: dir, readFile: async () => { throw new Error('no files here'); } });

const sr = (name: string, type: string, deviceConfig: string, shared = true) => `apiVersion: xops/v1
kind: SR
metadata: {name: ${name}}
spec:
  type: ${type}
  shared: ${shared}
  deviceConfig:
${deviceConfig.trim().split('\n').map((l) => `    ${l}`).join('\n')}
`;
const smb = (name: string) => sr(name, 'smb', 'server: //nas/share\nusername: svc\npassword: {secretRef: {env: SMB_PW}}');

async function write(files: Record<string, string>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
}

/** Each test is its own repository, so one test's prune never touches another's SRs. */
let repo = '';
let tests = 0;

/**
 * Plans the folder as `xops plan` does, credential changes included; `prune` plans deletes straight
 * from the planner (as a library caller can), leaving the policy and approval gates to their own tests.
 */
async function plan(opts: { prune?: boolean } = {}): Promise<Plan> {
  const observed = await takeSnapshot(env.client);
  const { desired, diagnostics } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const changedCredentials = await credentialChanges(desired, observed, defaultConfig(), source(), repo);
  const planned = planChanges(desired, observed, { repo, prune: opts.prune, changedCredentials });
  return opts.prune ? planned : applyAutomation(planned, desired, { now: new Date() });
}

const applyIt = (p: Plan) => applyPlan(p, env.client, { repo, secrets: source(), destructiveAllowed: () => true, retryDelayMs: 5 });

async function apply(opts: { prune?: boolean } = {}): Promise<Plan> {
  const p = await plan(opts);
  expect(failures(await applyIt(p))).toEqual([]);
  return p;
}

type Rec = Record<string, any>;
const records = async (cls: string): Promise<[string, Rec][]> => Object.entries(await env.client.call<Record<string, Rec>>(`${cls}.get_all_records`));
const srNamed = async (name: string): Promise<[string, Rec]> => (await records('SR')).find(([, r]) => r.name_label === name)!;
const pbdsOf = async (ref: string): Promise<Rec[]> => (await records('PBD')).filter(([, p]) => p.SR === ref).map(([, p]) => p);
const secretByUuid = async (uuid: string): Promise<Rec | undefined> => (await records('secret')).find(([, s]) => s.uuid === uuid)?.[1];
const xopsSecrets = async (address: string): Promise<Rec[]> => (await records('secret')).filter(([, s]) => s.other_config['xops.managed'] === address).map(([, s]) => s);

beforeAll(async () => {
  env = await simWithClient({ seed: 'demo' });
  dir = await mkdtemp(join(tmpdir(), 'xops-sr-secrets-'));
});
afterAll(async () => {
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  repo = `sr-secrets-${++tests}`;
  for (const k of Object.keys(secretEnv)) delete secretEnv[k];
});

describe('SR credentials as XAPI secrets', () => {
  it('an SMB password goes into a marked secret; PBDs name copies of it, never the value; the SR keeps a digest only', async () => {
    secretEnv.SMB_PW = 'first-Passw0rd';
    await write({ 'sr.yaml': smb('nas') });
    await apply();
    const [ref, rec] = await srNamed('nas');
    const own = await xopsSecrets('SR/nas');
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ value: 'first-Passw0rd', other_config: { 'xops.managed': 'SR/nas', 'xops.repo': repo, 'xops.credential-key': 'password' } });
    const pbds = await pbdsOf(ref);
    expect(pbds.length).toBe(env.sim.hostRefs.length);
    for (const p of pbds) {
      expect(p.currently_attached).toBe(true);
      expect(Object.keys(p.device_config).sort()).toEqual(['password_secret', 'server', 'username']);
      expect(p.device_config.password_secret).not.toBe(own[0]!.uuid);
      expect((await secretByUuid(p.device_config.password_secret))?.value).toBe('first-Passw0rd');
    }
    const digest = rec.other_config['xops.credential:spec.deviceConfig.password'];
    expect(digest).toMatch(/^scrypt\$15\$8\$1\$/);
    // Nothing in the pool but the secrets' own value fields holds the password.
    for (const cls of ['SR', 'PBD', 'pool', 'host', 'task', 'message']) expect(JSON.stringify(await records(cls))).not.toContain('first-Passw0rd');
    expect((await plan()).actions).toEqual([]);
  });

  it('a changed value is planned as "credential changed" with no disruption, and apply sets it on every secret without replugging', async () => {
    secretEnv.SMB_PW = 'first-Passw0rd';
    await write({ 'sr.yaml': smb('rot') });
    await apply();
    secretEnv.SMB_PW = 'second-Passw0rd';
    const p = await plan();
    expect(p.actions.map((a) => `${a.id} ${a.disruption}`)).toEqual(['update:SR/rot none']);
    expect(p.actions[0]!.drift).toBe(false);
    expect(p.actions[0]!.changes).toEqual([{ path: 'spec.deviceConfig.password', from: '(secret)', to: '(credential changed)', disruption: 'none' }]);
    expect(p.actions[0]!.reason).toMatch(/^credential changed: .*secret\.set_value.*next plugged/);
    for (const out of ['text', 'json', 'markdown'] as const) {
      const shown = out === 'json' ? JSON.stringify(p) : out === 'text' ? renderText(p, { color: false }) : renderMarkdown(p);
      expect(shown).toContain('credential changed');
      expect(shown).not.toContain('Passw0rd');
    }
    const [ref] = await srNamed('rot');
    const digestBefore = (await srNamed('rot'))[1].other_config['xops.credential:spec.deviceConfig.password'];
    const pbdsBefore = await pbdsOf(ref);
    expect(failures(await applyIt(p))).toEqual([]);
    expect((await xopsSecrets('SR/rot')).map((s) => s.value)).toEqual(['second-Passw0rd']);
    const pbdsAfter = await pbdsOf(ref);
    // The same PBDs (not re-created), still attached, their copies carrying the new value.
    expect(pbdsAfter.map((x) => x.uuid).sort()).toEqual(pbdsBefore.map((x) => x.uuid).sort());
    for (const x of pbdsAfter) {
      expect(x.currently_attached).toBe(true);
      expect((await secretByUuid(x.device_config.password_secret))?.value).toBe('second-Passw0rd');
    }
    expect((await srNamed('rot'))[1].other_config['xops.credential:spec.deviceConfig.password']).not.toBe(digestBefore);
    expect((await plan()).actions).toEqual([]);
    // The driver reads the new value at the next plug.
    await env.client.callAsync('PBD.unplug', (await records('PBD')).find(([, x]) => x.uuid === pbdsAfter[0]!.uuid)![0]);
    const [pbdRef] = (await records('PBD')).find(([, x]) => x.uuid === pbdsAfter[0]!.uuid)!;
    await env.client.callAsync('PBD.plug', pbdRef);
    expect((await records('PBD')).find(([r]) => r === pbdRef)![1].currently_attached).toBe(true);
  });

  it('an SR with no digest yet (made by an older xops) gets one at its next update only if the pool holds the value', async () => {
    secretEnv.SMB_PW = 'legacy-Passw0rd';
    await write({ 'sr.yaml': smb('legacy') });
    await apply();
    const digestKey = 'xops.credential:spec.deviceConfig.password';
    const [ref] = await srNamed('legacy');
    const describe = async (text: string) => {
      await env.client.call('SR.remove_from_other_config', ref, digestKey);
      await write({ 'sr.yaml': smb('legacy').replace('spec:\n', `spec:\n  description: ${text}\n`) });
      await apply();
      return (await srNamed('legacy'))[1].other_config[digestKey] as string | undefined;
    };
    // The value changed behind the digest's back: writing its digest now would hide the change for good.
    secretEnv.SMB_PW = 'not-what-the-pool-has';
    expect(await describe('one')).toBeUndefined();
    secretEnv.SMB_PW = 'legacy-Passw0rd';
    expect(await describe('two')).toMatch(/^scrypt\$/);
  });

  it('a credential the driver reads only from device_config (an ISO library\'s `password`) is changed by re-creating the PBDs: downtime', async () => {
    secretEnv.ISO_PW = 'iso-one';
    await write({ 'sr.yaml': sr('isolib', 'iso', 'location: //nas/isos\nusername: svc\npassword: {secretRef: {env: ISO_PW}}', false).replace('shared: false', 'shared: false\n  contentType: iso') });
    await apply();
    expect(await xopsSecrets('SR/isolib')).toEqual([]);
    secretEnv.ISO_PW = 'iso-two';
    const p = await plan();
    expect(p.actions.map((a) => `${a.id} ${a.disruption}`)).toEqual(['replace:SR/isolib:pbds downtime']);
    expect(p.actions[0]!.changes[0]).toMatchObject({ path: 'spec.deviceConfig.password', to: '(credential changed)', disruption: 'downtime' });
    expect(failures(await applyIt(p))).toEqual([]);
    const [ref] = await srNamed('isolib');
    expect((await pbdsOf(ref)).map((x) => x.device_config.password)).toEqual(['iso-two']);
    expect((await plan()).actions).toEqual([]);
  });

  it('deleting the SR destroys xops\' secret and the PBDs\' copies, and no one else\'s secret', async () => {
    secretEnv.SMB_PW = 'doomed-Passw0rd';
    await write({ 'sr.yaml': smb('gone') });
    await apply();
    const [ref] = await srNamed('gone');
    const copies = (await pbdsOf(ref)).map((p) => p.device_config.password_secret as string);
    const foreign = await env.client.call<string>('secret.create', { value: 'doomed-Passw0rd', other_config: { 'xops.managed': 'SR/other' } });
    await write({ 'keep.yaml': sr('keep', 'nfs', 'server: nfs.example\nserverpath: /keep') });
    const p = await apply({ prune: true });
    expect(p.actions.map((a) => a.id)).toContain('delete:SR/gone');
    expect(await xopsSecrets('SR/gone')).toEqual([]);
    for (const uuid of copies) expect(await secretByUuid(uuid)).toBeUndefined();
    expect(await env.client.call('secret.get_value', foreign)).toBe('doomed-Passw0rd');
  });

  it('a create XAPI refuses leaves no secret behind; the next run creates the SR with a fresh one', async () => {
    secretEnv.SMB_PW = 'retry-Passw0rd';
    await write({ 'sr.yaml': smb('refused') });
    env.sim.faults.inject({ methods: 'SR.create', taskFailure: { count: 100, code: 'SR_BACKEND_FAILURE_111', params: ['', 'CIFS mount error', ''] } });
    try {
      const p = await plan();
      expect(failures(await applyIt(p))).toEqual([expect.stringContaining('SR_BACKEND_FAILURE_111')]);
    } finally {
      env.sim.faults.clear();
    }
    expect(await xopsSecrets('SR/refused')).toEqual([]);
    expect(await srNamed('refused')).toBeUndefined();
    await apply();
    expect(await xopsSecrets('SR/refused')).toHaveLength(1);
  });
});
