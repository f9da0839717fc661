import { describe, expect, it } from 'vitest';
import { mayHoldUnsafeInteger, parseJsonKeepingBigInts } from '../../src/xapi/big-json.js';
import { JsonReplyDecoder } from '../../src/xapi/json-reply-decoder.js';

function decodeInPieces(text: string, size: number): unknown {
  const d = new JsonReplyDecoder();
  for (let i = 0; i < text.length; i += size) d.write(text.slice(i, i + size));
  return d.end();
}

/** As the socket delivers it: bytes, cut anywhere, even inside a multi-byte character. */
function decodeBytesInPieces(text: string, size: number): unknown {
  const bytes = Buffer.from(text, 'utf8');
  const d = new JsonReplyDecoder();
  for (let i = 0; i < bytes.length; i += size) d.write(bytes.subarray(i, i + size));
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

  it('gives the same result when the record boundary text sits inside a string or a nested ref-keyed map', () => {
    const result: Record<string, unknown> = {};
    for (let i = 0; i < 4000; i++) {
      result[`OpaqueRef:${i}`] = {
        name_label: i % 7 === 0 ? `tricky },"OpaqueRef:${i}":{` : `vm-${i}`,
        // A map keyed by refs inside a record: `},"OpaqueRef:` at depth 3.
        nested: i % 5 === 0 ? { 'OpaqueRef:a': { x: 1 }, 'OpaqueRef:b': { y: 2 } } : {},
        note: 'é ✓ 𝄞',
      };
    }
    const text = JSON.stringify({ jsonrpc: '2.0', result, id: 1 });
    const expected = JSON.parse(text);
    for (const size of [4096, 65536, 300_001]) {
      expect(decodeBytesInPieces(text, size)).toEqual(expected);
      expect(decodeInPieces(text, size)).toEqual(expected);
    }
  });

  it('decodes a reply of 50k records in many batches, bytes split anywhere, keeping int64 values exact', () => {
    const parts: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      // Every 997th record holds an int beyond 2^53, in a batch of its own or not.
      const mem = i % 997 === 0 ? `${9223372036854775000n + BigInt(i)}` : String(4294967296 + i);
      parts.push(`"OpaqueRef:${i}":{"uuid":"u-${i}","memory_static_max":${mem},"name_label":"vm ✓ ${i}","VBDs":[]}`);
    }
    const text = `{"jsonrpc":"2.0","result":{${parts.join(',')}},"id":9}`;
    expect(text.length).toBeGreaterThan(4_000_000);
    for (const size of [16_384, 65_537]) {
      const out = decodeBytesInPieces(text, size) as { result: Record<string, { memory_static_max: unknown; name_label: string }> };
      expect(Object.keys(out.result)).toHaveLength(50_000);
      expect(out.result['OpaqueRef:0']!.memory_static_max).toBe('9223372036854775000');
      expect(out.result['OpaqueRef:49850']!.memory_static_max).toBe('9223372036854824850');
      expect(out.result['OpaqueRef:1']!.memory_static_max).toBe(4294967297);
      expect(out.result['OpaqueRef:49999']!.name_label).toBe('vm ✓ 49999');
    }
  });
});

describe('mayHoldUnsafeInteger', () => {
  it('finds every run of 16 digits wherever it starts, and no run of 15', () => {
    for (let at = 0; at < 40; at++) {
      for (const [len, want] of [[15, false], [16, true], [19, true]] as const) {
        const text = 'abcde,'.repeat(10).slice(0, at) + '9'.repeat(len) + 'x1,2:3'.repeat(8);
        expect(mayHoldUnsafeInteger(text), `run of ${len} at ${at}`).toBe(want);
        expect(mayHoldUnsafeInteger(Buffer.from(text)), `bytes: run of ${len} at ${at}`).toBe(want);
      }
    }
  });

  it('lets a 16-digit safe integer stay a number', () => {
    expect(parseJsonKeepingBigInts('{"a":1000000000000000,"b":9007199254740993}')).toEqual({ a: 1000000000000000, b: '9007199254740993' });
  });
});
