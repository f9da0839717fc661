/**
 * A large reply is decoded in pieces with turns of the event loop between them: a cold snapshot
 * reads some twenty replies at once, and their socket reads used to run back to back while timers
 * (a lease renewal, a health check, the CLI's own progress) waited for a fifth of a second.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonReplyDecoder } from '../../src/xapi/json-reply-decoder.js';
import { decodeStream } from '../../src/xapi/stream-decode.js';

/** A get_all_records reply of `count` VM-like records, as XAPI's compact JSON. */
function reply(count: number): Buffer {
  const members: string[] = [];
  for (let i = 0; i < count; i++) {
    members.push(`"OpaqueRef:${String(i).padStart(8, '0')}":{"uuid":"u-${i}","name_label":"vm ${i}","memory_static_max":"${2 ** 33 + i}","other_config":{"k":"${'x'.repeat(200)}"}}`);
  }
  return Buffer.from(`{"jsonrpc":"2.0","id":1,"result":{${members.join(',')}}}`);
}

describe('decodeStream', () => {
  it('gives the event loop turns while a reply that arrived all at once is decoded, and the same value', async () => {
    const body = reply(12_000);
    expect(body.length).toBeGreaterThan(3 * 1024 * 1024);
    const stream = new PassThrough();
    const decoding = decodeStream(stream, new JsonReplyDecoder());
    // Every byte is buffered before the first is read: without pauses, one synchronous loop decodes it all.
    for (let at = 0; at < body.length; at += 64 * 1024) stream.write(body.subarray(at, at + 64 * 1024));
    stream.end();
    let turns = 0;
    let ticker: NodeJS.Immediate;
    const tick = () => {
      turns++;
      ticker = setImmediate(tick);
    };
    ticker = setImmediate(tick);
    const value = (await decoding) as { result: Record<string, { uuid: string; memory_static_max: string }> };
    clearImmediate(ticker!);
    // A turn per quarter MiB or so: 3 MiB and more cannot go in fewer than eight.
    expect(turns).toBeGreaterThanOrEqual(8);
    expect(value).toEqual(JSON.parse(body.toString()));
    expect(Object.keys(value.result)).toHaveLength(12_000);
  });

  it('rejects a reply cut short, after the turns it took', async () => {
    const body = reply(3000);
    const stream = new PassThrough();
    const decoding = decodeStream(stream, new JsonReplyDecoder());
    stream.end(body.subarray(0, body.length - 10));
    await expect(decoding).rejects.toThrow(/cut short or malformed/);
  });
});
