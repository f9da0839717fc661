import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { json, jsonOk, login, post, xml, xmlOk, xmlRequest } from './helpers.js';

let sim: Simulator;
let session: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  session = await login(sim);
});
afterAll(() => sim.stop());

describe('transports and envelopes', () => {
  it('answers XML-RPC on /, /RPC2 and /xmlrpc with text/xml and the Status/Value struct', async () => {
    for (const path of ['/', '/RPC2', '/xmlrpc']) {
      const r = await post(sim.url + path, xmlRequest('pool.get_all', [session]), 'text/xml');
      expect(r.status).toBe(200);
      expect(r.contentType).toBe('text/xml');
      expect(r.text).toContain('<name>Status</name><value>Success</value>');
    }
  });

  it('answers JSON-RPC 2.0 and 1.0 envelopes on /jsonrpc with application/json', async () => {
    const r2 = await post(`${sim.url}/jsonrpc`, JSON.stringify({ jsonrpc: '2.0', method: 'pool.get_all', params: [session], id: 'a' }), 'application/json');
    expect(r2.contentType).toBe('application/json');
    const b2 = JSON.parse(r2.text);
    expect(b2).toEqual({ jsonrpc: '2.0', result: [sim.poolRef], id: 'a' });
    const b1 = await json(sim.url, 'pool.get_all', [session], {});
    expect(b1).toEqual({ result: [sim.poolRef], error: null, id: 1 });
  });

  it('reports failures in each envelope: XML ErrorDescription, JSON 1.0 array, JSON 2.0 {code: 1, message, data}', async () => {
    const x = await xml(sim.url, 'VM.get_record', session, 'OpaqueRef:nope');
    expect(x).toEqual({ Status: 'Failure', ErrorDescription: ['HANDLE_INVALID', 'VM', 'OpaqueRef:nope'] });
    const j1 = await json(sim.url, 'VM.get_record', [session, 'OpaqueRef:nope'], {});
    expect(j1).toEqual({ result: null, error: ['HANDLE_INVALID', 'VM', 'OpaqueRef:nope'], id: 1 });
    const j2 = await json(sim.url, 'VM.get_record', [session, 'OpaqueRef:nope']);
    expect(j2.error).toEqual({ code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:nope'] });
  });

  it('refuses unparseable bodies with HTTP 500', async () => {
    expect((await post(sim.url, '<methodCall><oops', 'text/xml')).status).toBe(500);
    expect((await post(`${sim.url}/jsonrpc`, '{"method": "pool.get_all"', 'application/json')).status).toBe(500);
    // A JSON-RPC notification (no id) is refused as well.
    expect((await post(`${sim.url}/jsonrpc`, JSON.stringify({ method: 'pool.get_all', params: [] }), 'application/json')).status).toBe(500);
  });

  it('maps XAPI types on XML-RPC: ints untyped, bools, doubles, datetimes, maps and sets', async () => {
    const vm = sim.db.byName('VM', 'legacy-web01').ref;
    const r = await post(sim.url, xmlRequest('VM.get_record', [session, vm]), 'text/xml');
    expect(r.text).toMatch(/<member><name>memory_static_max<\/name><value>2147483648<\/value><\/member>/);
    expect(r.text).toMatch(/<member><name>is_a_template<\/name><value><boolean>0<\/boolean><\/value><\/member>/);
    expect(r.text).toMatch(/<member><name>HVM_shadow_multiplier<\/name><value><double>1<\/double><\/value><\/member>/);
    expect(r.text).toMatch(/<member><name>snapshot_time<\/name><value><dateTime\.iso8601>19700101T00:00:00Z<\/dateTime\.iso8601><\/value>/);
    expect(r.text).toMatch(/<member><name>tags<\/name><value><array><data><\/data><\/array><\/value>/);
    const rec = await xmlOk(sim.url, 'VM.get_record', session, vm);
    expect(rec.VCPUs_max).toBe('2');
    expect(rec.power_state).toBe('Running');
  });

  it('uses JSON numbers, booleans and strings on JSON-RPC', async () => {
    const vm = sim.db.byName('VM', 'legacy-web01').ref;
    const rec = await jsonOk(sim.url, 'VM.get_record', session, vm);
    expect(rec.VCPUs_max).toBe(2);
    expect(rec.is_a_template).toBe(false);
    expect(rec.snapshot_time).toBe('19700101T00:00:00Z');
    expect(rec.VBDs).toHaveLength(1);
  });

  it('accepts ints sent as strings, <i4> or JSON numbers', async () => {
    const vm = sim.db.byName('VM', 'backup-appliance').ref;
    await xmlOk(sim.url, 'VM.set_VCPUs_max', session, vm, '4');
    expect(sim.db.record(vm).VCPUs_max).toBe(4);
    await xmlOk(sim.url, 'VM.set_VCPUs_max', session, vm, 3);
    expect(sim.db.record(vm).VCPUs_max).toBe(3);
    await jsonOk(sim.url, 'VM.set_VCPUs_max', session, vm, 2);
    expect(sim.db.record(vm).VCPUs_max).toBe(2);
  });
});

describe('sessions and dispatch errors', () => {
  it('rejects wrong credentials with SESSION_AUTHENTICATION_FAILED', async () => {
    const r = await xml(sim.url, 'session.login_with_password', 'root', 'wrong');
    expect(r.ErrorDescription[0]).toBe('SESSION_AUTHENTICATION_FAILED');
    expect(r.ErrorDescription[1]).toBe('root');
  });

  it('rejects unknown and logged-out sessions with SESSION_INVALID', async () => {
    expect((await xml(sim.url, 'pool.get_all', 'OpaqueRef:bogus')).ErrorDescription).toEqual(['SESSION_INVALID', 'OpaqueRef:bogus']);
    const s = await login(sim);
    await xmlOk(sim.url, 'session.logout', s);
    expect((await xml(sim.url, 'pool.get_all', s)).ErrorDescription).toEqual(['SESSION_INVALID', s]);
  });

  it('accepts a session from one transport on the other', async () => {
    const s = await jsonOk(sim.url, 'session.login_with_password', 'root', 'xops');
    expect(await xmlOk(sim.url, 'pool.get_all', s)).toEqual([sim.poolRef]);
  });

  it('fails unknown methods with MESSAGE_METHOD_UNKNOWN and wrong arity with MESSAGE_PARAMETER_COUNT_MISMATCH', async () => {
    expect((await xml(sim.url, 'VM.frobnicate', session)).ErrorDescription).toEqual(['MESSAGE_METHOD_UNKNOWN', 'VM.frobnicate']);
    expect((await xml(sim.url, 'VM.get_record', session)).ErrorDescription).toEqual(['MESSAGE_PARAMETER_COUNT_MISMATCH', 'VM.get_record', '1', '0']);
    expect((await xml(sim.url, 'VM.start', session, 'x', true, false, 'extra')).ErrorDescription).toEqual([
      'MESSAGE_PARAMETER_COUNT_MISMATCH',
      'VM.start',
      '3',
      '4',
    ]);
  });

  it('lets optional trailing parameters be left out', async () => {
    expect(await xmlOk(sim.url, 'session.login_with_password', 'root', 'xops')).toMatch(/^OpaqueRef:/);
  });

  it('answers UUID_INVALID for unknown uuids and Class_message aliases', async () => {
    expect((await xml(sim.url, 'VM.get_by_uuid', session, 'nope')).ErrorDescription).toEqual(['UUID_INVALID', 'VM', 'nope']);
    const pools = await xmlOk(sim.url, 'pool_get_all', session);
    expect(pools).toEqual([sim.poolRef]);
    // The demo seed's one running guest (legacy-web01, with tools) has reported; the alias reaches that class.
    expect(await xmlOk(sim.url, 'VM_guest_metrics_get_all', session)).toEqual([sim.db.byName('VM', 'legacy-web01').rec.guest_metrics]);
  });

  it('lists methods with system.listMethods as a bare value', async () => {
    const r = await post(sim.url, xmlRequest('system.listMethods', []), 'text/xml');
    expect(r.text).not.toContain('Status');
    const list = await jsonOk(sim.url, 'system.listMethods');
    expect(list).toContain('VM.get_all_records');
    expect(list).toContain('VM.start');
  });
});

describe('generic messages', () => {
  it('get_all_records returns every object keyed by ref with full records', async () => {
    const all = await jsonOk(sim.url, 'VM.get_all_records', session);
    const names = Object.values(all).map((r: any) => r.name_label);
    expect(names).toContain('legacy-web01');
    expect(names).toContain('Debian Bookworm 12');
    const any = Object.values(all)[0] as Record<string, unknown>;
    // Every field the datamodel lists, whatever its relevance to xops.
    expect(Object.keys(any).length).toBe(sim.db.model.classes.get('VM')!.fields.length);
  });

  it('get_by_name_label returns a set, get_by_uuid a ref', async () => {
    const [ref] = await jsonOk(sim.url, 'SR.get_by_name_label', session, 'pool-nfs');
    const uuid = await jsonOk(sim.url, 'SR.get_uuid', session, ref);
    expect(await jsonOk(sim.url, 'SR.get_by_uuid', session, uuid)).toBe(ref);
    expect(await jsonOk(sim.url, 'SR.get_by_name_label', session, 'no such')).toEqual([]);
  });

  it('set_<field>, add_to_/remove_from_ maps with MAP_DUPLICATE_KEY, add_tags/remove_tags', async () => {
    const net = sim.db.byName('network', 'Pool-wide network associated with eth1').ref;
    await jsonOk(sim.url, 'network.set_name_description', session, net, 'storage');
    expect(sim.db.record(net).name_description).toBe('storage');
    await jsonOk(sim.url, 'network.add_to_other_config', session, net, 'k', 'v');
    const dup = await json(sim.url, 'network.add_to_other_config', [session, net, 'k', 'w']);
    expect(dup.error).toEqual({ code: 1, message: 'MAP_DUPLICATE_KEY', data: ['network', 'other_config', net, 'k'] });
    await jsonOk(sim.url, 'network.remove_from_other_config', session, net, 'k');
    await jsonOk(sim.url, 'network.remove_from_other_config', session, net, 'k');
    expect(sim.db.record(net).other_config).not.toHaveProperty('k');
    await jsonOk(sim.url, 'network.add_tags', session, net, 'a');
    await jsonOk(sim.url, 'network.add_tags', session, net, 'a');
    expect(sim.db.record(net).tags).toEqual(['a']);
    await jsonOk(sim.url, 'network.remove_tags', session, net, 'a');
    expect(sim.db.record(net).tags).toEqual([]);
  });

  it('has no setter for read-only fields', async () => {
    const vm = sim.db.byName('VM', 'legacy-web01').ref;
    expect((await json(sim.url, 'VM.set_power_state', [session, vm, 'Halted'])).error.message).toBe('MESSAGE_METHOD_UNKNOWN');
  });

  it('supports *_where filters', async () => {
    const refs = await jsonOk(sim.url, 'VM.get_all_records_where', session, 'field "power_state" = "Running" and field "is_control_domain" = "false"');
    expect(Object.values(refs).map((r: any) => r.name_label)).toEqual(['legacy-web01']);
  });

  it('checks the mandatory fields of implicit constructors', async () => {
    const r = await json(sim.url, 'network.create', [session, { name_label: 'x' }]);
    expect(r.error.message).toBe('INTERNAL_ERROR');
    expect(r.error.data[0]).toContain('other_config');
  });
});
