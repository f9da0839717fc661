import { describe, expect, it } from 'vitest';
import { parseJsonKeepingBigInts } from '../../src/xapi/big-json.js';
import { decodeInt, decodeRecord } from '../../src/xapi/decode.js';
import { decodeJsonRpcReply } from '../../src/xapi/jsonrpc-transport.js';
import { decodeValueFragment } from '../../src/xapi/xmlrpc-transport.js';
import type { VMRecord } from '../../src/model/observed.js';

describe('parseJsonKeepingBigInts', () => {
  it.each([
    // why: the common case must be plain JSON.parse semantics
    ['small ints stay numbers', '{"a":12,"b":[1,2]}', { a: 12, b: [1, 2] }],
    // why: XAPI writes int64 as a bare number; rounding 2^63-1 would silently corrupt it
    ['ints beyond 2^53 become exact strings', '{"m":9223372036854775807,"n":[-9007199254740993]}', { m: '9223372036854775807', n: ['-9007199254740993'] }],
    // why: event tokens are 20-digit strings and must not be touched (nor trip the slow path into damage)
    ['digit runs inside strings are left alone', '{"token":"00000000000000000042,00000000000000000000","x":1}', { token: '00000000000000000042,00000000000000000000', x: 1 }],
    // why: the slow path must honour escaped quotes while skipping strings
    ['escaped quotes do not confuse the scanner', '{"s":"a\\",12345678901234567890","v":12345678901234567890}', { s: 'a",12345678901234567890', v: '12345678901234567890' }],
    // why: floats with many digits are not ints and keep JSON semantics
    ['long floats stay floats', '{"f":1234567890123456.5}', { f: 1234567890123456.5 }],
  ])('%s', (_why, text, expected) => {
    expect(parseJsonKeepingBigInts(text)).toEqual(expected);
  });
});

describe('decodeRecord', () => {
  it('turns XML-RPC string ints of a VM into numbers and leaves other strings alone', () => {
    const rec = decodeRecord('VM', {
      uuid: 'u',
      memory_static_max: '4294967296',
      VCPUs_max: '2',
      name_label: '12',
      other_config: { 'xops.managed': 'VM/a' },
    } as unknown as VMRecord);
    expect(rec.memory_static_max).toBe(4294967296);
    expect(rec.VCPUs_max).toBe(2);
    expect(rec.name_label).toBe('12'); // a name that looks like a number is still a name
  });

  it('decodes int sets and int->int map values, keeping map keys as strings', () => {
    const vif = decodeRecord('VIF', { uuid: 'u', trunks: ['10', '20'], MTU: '1500' });
    expect(vif['trunks']).toEqual([10, 20]);
    const m = decodeRecord('VM_metrics', { uuid: 'u', VCPUs_CPU: { '0': '3' }, memory_actual: '1024' });
    expect(m['VCPUs_CPU']).toEqual({ '0': 3 });
  });

  it('keeps an int too large for a double exact, as a string', () => {
    expect(decodeInt('18446744073709551615')).toBe('18446744073709551615');
    expect(decodeInt(-1)).toBe(-1);
  });
});

describe('decodeJsonRpcReply', () => {
  it.each([
    ['2.0 success', { jsonrpc: '2.0', result: 'OpaqueRef:x', id: 1 }, { ok: true, value: 'OpaqueRef:x' }],
    ['2.0 failure carries code then data', { jsonrpc: '2.0', error: { code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:y'] }, id: 1 }, { ok: false, error: ['HANDLE_INVALID', 'VM', 'OpaqueRef:y'] }],
    ['1.0 failure is a bare list', { result: null, error: ['SESSION_INVALID', 'OpaqueRef:s'], id: 1 }, { ok: false, error: ['SESSION_INVALID', 'OpaqueRef:s'] }],
    // why: a void result is "" and must not be mistaken for a missing result
    ['void result', { result: '', error: null, id: 1 }, { ok: true, value: '' }],
  ])('%s', (_why, reply, expected) => {
    expect(decodeJsonRpcReply(reply)).toEqual(expected);
  });
});

describe('decodeValueFragment (task results)', () => {
  it.each([
    ['a ref', '<value>OpaqueRef:abc</value>', 'OpaqueRef:abc'],
    ['void', '<value></value>', ''],
    ['empty string result field', '', ''],
    ['a typed set', '<value><array><data><value>a</value><value>b</value></data></array></value>', ['a', 'b']],
    // why: XAPI escapes XML in results
    ['escaped text', '<value>a &amp; b</value>', 'a & b'],
  ])('%s', async (_why, fragment, expected) => {
    expect(await decodeValueFragment(fragment)).toEqual(expected);
  });
});
