import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login, xml, xmlOk } from './helpers.js';

// The `secret` class and `*_secret` device-config keys.
// Fields (datamodel.json, class secret): uuid (RO/runtime), value (RW), other_config (RW, default {}); all readable
// through get_record. secret.create takes {value, other_config}; introduce takes the uuid (xen-api
// ocaml/xapi/xapi_secret.ml). SM looks a secret up with secret.get_by_uuid + get_value and, when that fails, raises
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
  it('SR.create with password_secret behaves as with password; the PBDs keep the uuid, never the value', async () => {
    const secret = await call('secret.create', { value: VALUE, other_config: {} });
    const uuid = await call('secret.get_uuid', secret);
    const viaSecret = await call('SR.create', host0(), { server: '//nas/a', username: 'svc', password_secret: uuid }, 0, 'sec-smb', '', 'smb', 'user', true, {});
    const viaPlain = await call('SR.create', host0(), { server: '//nas/b', username: 'svc', password: VALUE }, 0, 'sec-smb-plain', '', 'smb', 'user', true, {});
    const pbds = sim.db.record(viaSecret).PBDs as string[];
    expect(pbds).toHaveLength((sim.db.record(viaPlain).PBDs as string[]).length);
    for (const p of pbds) {
      expect(sim.db.record(p)).toMatchObject({ currently_attached: true, device_config: { server: '//nas/a', username: 'svc', password_secret: uuid } });
    }
    expect(JSON.stringify(await call('PBD.get_all_records'))).not.toContain(`"password_secret":"${VALUE}"`);
  });

  it('an unknown secret fails SR.create as SM does, and creates nothing', async () => {
    const before = { srs: sim.db.count('SR'), pbds: sim.db.count('PBD') };
    const uuid = 'deadbeef-0000-4000-8000-000000000000';
    expect(await srCreate('sec-missing', 'smb', { server: '//nas/a', username: 'svc', password_secret: uuid })).toEqual([
      'SR_BACKEND_FAILURE_20',
      '',
      `No such secret. [opterr=Unable to look up secret [${uuid}]]`,
      '',
    ]);
    expect({ srs: sim.db.count('SR'), pbds: sim.db.count('PBD') }).toEqual(before);
    // Without a username SM never reads the password, so the missing secret goes unnoticed.
    expect(await srCreate('sec-anonymous', 'smb', { server: '//nas/a', password_secret: uuid })).toEqual([]);
  });

  it('resolves the iSCSI CHAP secrets when their users are given', async () => {
    const iscsi = { target: '10.0.0.5', targetIQN: 'iqn.2026-01.test:t', SCSIid: '36001405abc' };
    const chap = await call('secret.get_uuid', await call('secret.create', { value: VALUE, other_config: {} }));
    expect(await srCreate('sec-iscsi', 'lvmoiscsi', { ...iscsi, chapuser: 'u', chappassword_secret: chap })).toEqual([]);
    const missing = 'deadbeef-0000-4000-8000-000000000001';
    expect((await srCreate('sec-iscsi-in', 'lvmoiscsi', { ...iscsi, chapuser: 'u', chappassword_secret: chap, incoming_chapuser: 'i', incoming_chappassword_secret: missing }))[0]).toBe(
      'SR_BACKEND_FAILURE_20',
    );
  });

  it('PBD.plug reads the secret again: a destroyed one fails the plug, one reintroduced under the uuid fixes it', async () => {
    const secret = await call('secret.create', { value: VALUE, other_config: {} });
    const uuid = await call('secret.get_uuid', secret);
    const sr = await call('SR.create', host0(), { server: '//nas/c', username: 'svc', password_secret: uuid }, 0, 'sec-plug', '', 'smb', 'user', false, {});
    const [pbd] = sim.db.record(sr).PBDs as string[];
    await call('PBD.unplug', pbd);
    await call('secret.destroy', secret);
    expect((await error('PBD.plug', pbd))[0]).toBe('SR_BACKEND_FAILURE_20');
    expect(sim.db.record(pbd!).currently_attached).toBe(false);
    await call('secret.introduce', uuid, VALUE, {});
    await call('PBD.plug', pbd);
    expect(sim.db.record(pbd!).currently_attached).toBe(true);
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
