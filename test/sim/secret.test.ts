import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login, xml, xmlOk } from './helpers.js';

// The `secret` class and `*_secret` device-config keys.
// Fields (datamodel.json, class secret): uuid (RO/runtime), value (RW), other_config (RW, default {}); all readable
// through get_record. secret.create takes {value, other_config}; introduce takes the uuid (xen-api
// ocaml/xapi/xapi_secret.ml). XAPI gives every PBD it makes its own copy of the secrets its *password_secret keys
// name, failing UUID_INVALID on an unknown one (ocaml/xapi/xapi_pbd.ml create_common -> Xapi_secret.duplicate_passwds),
// and destroys them with the PBD (clean_out_passwds). SM looks a secret up with secret.get_by_uuid + get_value and, when that fails, raises
// InvalidSecret: code 20, "No such secret." plus "[opterr=Unable to look up secret [<uuid>]]" (xapi-project/sm
// libs/sm/core/util.py get_secret, libs/sm/core/XE_SR_ERRORCODES.xml). It reads the CIFS password only when a
// username is given (libs/sm/cifutils.py getCIFCredentials) and a CHAP password only with its user
// (libs/sm/BaseISCSI.py load).

const VALUE = 'correct horse battery staple';
let sim: Simulator;
let s: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);
const error = async (method: string, ...params: unknown[]): Promise<string[]> => {
  const r = await json(sim.url, method, [s, ...params]);
  return r.error ? [r.error.message, ...(r.error.data ?? [])] : [];
};
const host0 = (): string => sim.hostRefs[0]!;
const srCreate = (name: string, type: string, dc: Record<string, string>): Promise<string[]> => error('SR.create', host0(), dc, 0, name, '', type, 'user', true, {});

/** What the simulator wrote to the console or to stdout/stderr while `fn` ran. */
async function output(fn: () => Promise<void>): Promise<string> {
  const seen: string[] = [];
  const spies = [
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void seen.push(a.map(String).join(' ')))),
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => seen.push(String(c)) > 0),
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => seen.push(String(c)) > 0),
  ];
  try {
    await fn();
  } finally {
    for (const sp of spies) sp.mockRestore();
  }
  return seen.join('\n');
}

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  s = await login(sim);
});
afterEach(() => {
  for (const sr of [...sim.db.all('SR')].filter((o) => String(o.rec.name_label).startsWith('sec-'))) {
    for (const p of sr.rec.PBDs as string[]) sim.db.destroy(p);
    sim.db.destroy(sr.ref);
  }
});
afterAll(() => sim.stop());

describe('secret class', () => {
  it('creates, reads, changes and destroys a secret over JSON-RPC', async () => {
    const ref = await call('secret.create', { value: VALUE, other_config: { purpose: 'nas' } });
    const uuid = await call('secret.get_uuid', ref);
    expect(await call('secret.get_by_uuid', uuid)).toBe(ref);
    expect(await call('secret.get_value', ref)).toBe(VALUE);
    expect(await call('secret.get_record', ref)).toEqual({ uuid, value: VALUE, other_config: { purpose: 'nas' } });
    await call('secret.set_value', ref, 'rotated');
    expect((await call('secret.get_all_records'))[ref]).toEqual({ uuid, value: 'rotated', other_config: { purpose: 'nas' } });
    await call('secret.destroy', ref);
    expect(await error('secret.get_value', ref)).toEqual(['HANDLE_INVALID', 'secret', ref]);
    expect(await error('secret.get_by_uuid', uuid)).toEqual(['UUID_INVALID', 'secret', uuid]);
  });

  it('creates and reads a secret over XML-RPC; value is mandatory, other_config is not', async () => {
    const ref = await xmlOk(sim.url, 'secret.create', s, { value: VALUE });
    expect(await xmlOk(sim.url, 'secret.get_record', s, ref)).toMatchObject({ value: VALUE, other_config: {} });
    expect((await xml(sim.url, 'secret.create', s, { other_config: {} })).ErrorDescription).toEqual([
      'INTERNAL_ERROR',
      'Server_helpers.Dispatcher_FieldNotFound("value")',
    ]);
    await xmlOk(sim.url, 'secret.destroy', s, ref);
  });

  it('introduces a secret under a uuid the caller chose, once', async () => {
    const uuid = '0f9a3c1e-5d2b-4c7a-9e11-3b5c7d9e1f20';
    const ref = await call('secret.introduce', uuid, VALUE, {});
    expect(await call('secret.get_by_uuid', uuid)).toBe(ref);
    expect((await error('secret.introduce', uuid, 'other', {}))[0]).toBe('INTERNAL_ERROR');
    await call('secret.destroy', ref);
  });

  it("works through Xen Orchestra's xen-api client on both transports", async () => {
    const { Xapi } = (await import('xen-api' as string)) as { Xapi: new (o: Record<string, unknown>) => any };
    for (const transport of ['json-rpc', 'xml-rpc']) {
      const xapi = new Xapi({ url: sim.url, auth: { user: 'root', password: 'xops' }, transport, allowUnauthorized: true, watchEvents: false });
      await xapi.connect();
      try {
        const ref = await xapi.call('secret.create', { value: VALUE, other_config: {} });
        expect(await xapi.call('secret.get_value', ref)).toBe(VALUE);
        await xapi.call('secret.destroy', ref);
      } finally {
        await xapi.disconnect();
      }
    }
  });
});

describe('*_secret device-config keys', () => {
  const newSecret = async (value = VALUE): Promise<string> => call('secret.get_uuid', await call('secret.create', { value, other_config: {} }));
  const secretValue = (uuid: string): unknown => sim.db.record(sim.db.refByUuid('secret', uuid)!).value;

  it('SR.create with password_secret behaves as with password; its PBDs name one copy of the secret, not the caller\'s', async () => {
    const uuid = await newSecret();
    const viaSecret = await call('SR.create', host0(), { server: '//nas/a', username: 'svc', password_secret: uuid }, 0, 'sec-smb', '', 'smb', 'user', true, {});
    const viaPlain = await call('SR.create', host0(), { server: '//nas/b', username: 'svc', password: VALUE }, 0, 'sec-smb-plain', '', 'smb', 'user', true, {});
    const pbds = (sim.db.record(viaSecret).PBDs as string[]).map((p) => sim.db.record(p));
    expect(pbds).toHaveLength((sim.db.record(viaPlain).PBDs as string[]).length);
    const copy = (pbds[0]!.device_config as Record<string, string>).password_secret!;
    expect(copy).not.toBe(uuid);
    expect(secretValue(copy)).toBe(VALUE);
    for (const p of pbds) expect(p).toMatchObject({ currently_attached: true, device_config: { server: '//nas/a', username: 'svc', password_secret: copy } });
    // The caller's secret is untouched and still the caller's.
    expect(secretValue(uuid)).toBe(VALUE);
  });

  it('an unknown secret fails SR.create and PBD.create with UUID_INVALID before any driver runs, creating nothing', async () => {
    const uuid = 'deadbeef-0000-4000-8000-000000000000';
    const sr = await call('SR.create', host0(), { server: '//nas/e', username: 'svc', password: VALUE }, 0, 'sec-local', '', 'smb', 'user', false, {});
    const before = { srs: sim.db.count('SR'), pbds: sim.db.count('PBD'), secrets: sim.db.count('secret') };
    expect(await srCreate('sec-missing', 'smb', { server: '//nas/a', username: 'svc', password_secret: uuid })).toEqual(['UUID_INVALID', 'secret', uuid]);
    // XAPI copies the secret whether or not the driver would read it (no username here).
    expect(await srCreate('sec-anonymous', 'smb', { server: '//nas/a', password_secret: uuid })).toEqual(['UUID_INVALID', 'secret', uuid]);
    const dc = { server: '//nas/e', username: 'svc', password_secret: uuid };
    expect(await error('PBD.create', { host: sim.hostRefs[1], SR: sr, device_config: dc, other_config: {} })).toEqual(['UUID_INVALID', 'secret', uuid]);
    expect({ srs: sim.db.count('SR'), pbds: sim.db.count('PBD'), secrets: sim.db.count('secret') }).toEqual(before);
  });

  it('PBD.create gives the PBD its own copy; PBD.destroy destroys that copy and nothing else', async () => {
    const uuid = await newSecret();
    const sr = await call('SR.create', host0(), { server: '//nas/d', username: 'svc', password_secret: uuid }, 0, 'sec-pbd', '', 'smb', 'user', false, {});
    const first = (sim.db.record(sr).PBDs as string[])[0]!;
    const firstCopy = (sim.db.record(first).device_config as Record<string, string>).password_secret!;
    const pbd = await call('PBD.create', { host: sim.hostRefs[1], SR: sr, device_config: { server: '//nas/d', username: 'svc', password_secret: uuid }, other_config: {} });
    const ownCopy = (sim.db.record(pbd).device_config as Record<string, string>).password_secret!;
    expect(new Set([uuid, firstCopy, ownCopy]).size).toBe(3);
    await call('PBD.destroy', pbd);
    expect(sim.db.refByUuid('secret', ownCopy)).toBeUndefined();
    expect(secretValue(firstCopy)).toBe(VALUE);
    expect(secretValue(uuid)).toBe(VALUE);
  });

  // xen-api ocaml/xapi/xapi_sr.ml really_forget (run after SR.destroy and SR.forget) removes each PBD through
  // Xapi_pbd.destroy, whose clean_out_passwds destroys the secrets it names; the caller's secret is not the PBD's.
  it.each(['SR.destroy', 'SR.forget'])('%s destroys the copies its PBDs name, and only those', async (method) => {
    const uuid = await newSecret();
    const sr = await call('SR.create', host0(), { server: '//nas/f', username: 'svc', password_secret: uuid }, 0, 'sec-gone', '', 'smb', 'user', true, {});
    const pbds = sim.db.record(sr).PBDs as string[];
    const copies = new Set(pbds.map((p) => (sim.db.record(p).device_config as Record<string, string>).password_secret!));
    const unrelated = await newSecret('someone else');
    for (const p of pbds) await call('PBD.unplug', p);
    await call(method, sr);
    for (const copy of copies) expect(sim.db.refByUuid('secret', copy)).toBeUndefined();
    expect(secretValue(uuid)).toBe(VALUE);
    expect(secretValue(unrelated)).toBe('someone else');
  });

  it('resolves the iSCSI CHAP secrets when their users are given', async () => {
    const iscsi = { target: '10.0.0.5', targetIQN: 'iqn.2026-01.test:t', SCSIid: '36001405abc' };
    const chap = await newSecret();
    expect(await srCreate('sec-iscsi', 'lvmoiscsi', { ...iscsi, chapuser: 'u', chappassword_secret: chap })).toEqual([]);
    const missing = 'deadbeef-0000-4000-8000-000000000001';
    expect(await srCreate('sec-iscsi-in', 'lvmoiscsi', { ...iscsi, chapuser: 'u', chappassword_secret: chap, incoming_chapuser: 'i', incoming_chappassword_secret: missing })).toEqual([
      'UUID_INVALID',
      'secret',
      missing,
    ]);
  });

  it('PBD.plug reads the secret as SM does: a destroyed copy fails the plug with InvalidSecret, one reintroduced fixes it', async () => {
    const uuid = await newSecret();
    const sr = await call('SR.create', host0(), { server: '//nas/c', username: 'svc', password_secret: uuid }, 0, 'sec-plug', '', 'smb', 'user', false, {});
    const [pbd] = sim.db.record(sr).PBDs as string[];
    const copy = (sim.db.record(pbd!).device_config as Record<string, string>).password_secret!;
    await call('PBD.unplug', pbd);
    // The caller's own secret no longer matters to the PBD.
    await call('secret.destroy', await call('secret.get_by_uuid', uuid));
    await call('PBD.plug', pbd);
    await call('PBD.unplug', pbd);
    await call('secret.destroy', await call('secret.get_by_uuid', copy));
    expect(await error('PBD.plug', pbd)).toEqual(['SR_BACKEND_FAILURE_20', '', `No such secret. [opterr=Unable to look up secret [${copy}]]`, '']);
    expect(sim.db.record(pbd!).currently_attached).toBe(false);
    await call('secret.introduce', copy, VALUE, {});
    await call('PBD.plug', pbd);
    expect(sim.db.record(pbd!).currently_attached).toBe(true);
  });

  it('with movePasswordsToSecrets, plain passwords become secrets as XAPI does, and no PBD holds the value', async () => {
    const xapiLike = await startSimulator({ port: 0, multiHost: false, movePasswordsToSecrets: true });
    try {
      const s2 = await xmlOk(xapiLike.url, 'session.login_with_password', 'root', 'xops');
      const sr = await jsonOk(xapiLike.url, 'SR.create', s2, xapiLike.hostRefs[0], { server: '//nas/m', username: 'svc', password: VALUE }, 0, 'sec-moved', '', 'smb', 'user', true, {});
      const pbds = (xapiLike.db.record(sr).PBDs as string[]).map((p) => xapiLike.db.record(p).device_config as Record<string, string>);
      for (const dc of pbds) {
        expect(Object.keys(dc).sort()).toEqual(['password_secret', 'server', 'username']);
        expect(xapiLike.db.record(xapiLike.db.refByUuid('secret', dc.password_secret!)!).value).toBe(VALUE);
      }
      expect(JSON.stringify(await jsonOk(xapiLike.url, 'PBD.get_all_records', s2))).not.toContain(VALUE);
    } finally {
      await xapiLike.stop();
    }
  });

  it('never prints a secret value, on success or failure paths', async () => {
    const printed = await output(async () => {
      const ref = await call('secret.create', { value: VALUE, other_config: {} });
      const uuid = await call('secret.get_uuid', ref);
      await srCreate('sec-quiet', 'smb', { server: '//nas/q', username: 'svc', password_secret: uuid });
      await srCreate('sec-quiet-bad', 'smb', { username: 'svc', password_secret: uuid });
      await error('secret.set_value', ref, { not: 'a string' });
      await error('secret.create', { value: VALUE, other_config: 'not a map' });
      await call('secret.destroy', ref);
      await srCreate('sec-quiet-gone', 'smb', { server: '//nas/q', username: 'svc', password_secret: uuid });
    });
    expect(printed).not.toContain(VALUE);
  });
});
