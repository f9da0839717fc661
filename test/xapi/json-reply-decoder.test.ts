import { describe, expect, it } from 'vitest';
import { JsonReplyDecoder } from '../../src/xapi/json-reply-decoder.js';

function decodeInPieces(text: string, size: number): unknown {
  const d = new JsonReplyDecoder();
  for (let i = 0; i < text.length; i += size) d.write(text.slice(i, i + size));
  return d.end();
}

/** A get_all_records-shaped reply big enough to be parsed in several batches. */
function bigReply(n: number): string {
  const result: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    result[`OpaqueRef:${i}`] = {
      uuid: `u-${i}`,
      name_label: `vm "${i}" \\ {,}[]:`, // structural characters and escapes inside strings
      memory_static_max: 4294967296,
      VBDs: [`OpaqueRef:b${i}`],
      other_config: { 'xops.managed': `VM/vm-${i}`, note: 'é ✓' },
    };
  }
  return JSON.stringify({ jsonrpc: '2.0', result, id: 7 });
}

describe('JsonReplyDecoder', () => {
  it.each([
    // why: the common small replies must be unaffected by the streaming path
    ['a ref', '{"jsonrpc":"2.0","result":"OpaqueRef:x","id":1}'],
    ['an error object', '{"jsonrpc":"2.0","error":{"code":1,"message":"HANDLE_INVALID","data":["VM","x"]},"id":1}'],
    ['a 1.0 reply with result before error', '{"result":{"a":{"b":1}},"error":null,"id":1}'],
    ['an empty map', '{"jsonrpc":"2.0","result":{},"id":1}'],
    ['an array result', '{"jsonrpc":"2.0","result":["OpaqueRef:a","OpaqueRef:b"],"id":1}'],
    // why: event.from replies are objects too, with a nested events list
    ['an event batch', '{"jsonrpc":"2.0","result":{"events":[{"class":"vm","ref":"r","snapshot":{"a":"}"}}],"token":"1,0"},"id":3}'],
  ])('reads %s like JSON.parse', (_why, text) => {
    for (const size of [1, 3, text.length]) expect(decodeInPieces(text, size)).toEqual(JSON.parse(text));
  });

  it('reads a multi-megabyte record map in batches, the same as JSON.parse, whatever the chunking', () => {
    const text = bigReply(3000);
    expect(text.length).toBeGreaterThan(2 * 256 * 1024);
    const expected = JSON.parse(text);
    for (const size of [1000, 65536, 777_777]) expect(decodeInPieces(text, size)).toEqual(expected);
  });

  it('keeps ints beyond 2^53 exact inside batched records', () => {
    const text = '{"jsonrpc":"2.0","result":{"r1":{"v":9223372036854775807},"r2":{"v":1}},"id":1}';
    expect(decodeInPieces(text, 5)).toEqual({ jsonrpc: '2.0', result: { r1: { v: '9223372036854775807' }, r2: { v: 1 } }, id: 1 });
  });

  it('refuses a reply cut in the middle of the map', () => {
    const text = bigReply(10);
    expect(() => decodeInPieces(text.slice(0, text.length / 2), 100)).toThrow(/cut short/);
  });
});
