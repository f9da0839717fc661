import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryQueue, type DeliveryResult } from '../../src/notify/delivery.js';
import { Receiver, RecordingClock } from './receiver.js';

let receiver: Receiver;
beforeEach(async () => {
  receiver = await new Receiver().start();
});
afterEach(async () => {
  await receiver.stop();
});

function queue(options: ConstructorParameters<typeof DeliveryQueue>[0] = {}): { q: DeliveryQueue; results: DeliveryResult[]; clock: RecordingClock } {
  const results: DeliveryResult[] = [];
  const clock = new RecordingClock();
  const q = new DeliveryQueue({ clock, ...options, onResult: (r) => results.push(r) });
  return { q, results, clock };
}

const post = (n: number) => ({ url: `${receiver.url}/hook`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) });

describe('delivery queue (local HTTP receiver)', () => {
  it('retries server errors with exponential backoff and sends the same bytes every time', async () => {
    receiver.respond = (_r, i) => (i < 3 ? 503 : 204);
    const { q, results, clock } = queue({ backoff: { initialMs: 1000, factor: 2, maxMs: 60_000 } });
    q.enqueue('one', post(1));
    await q.idle();
    expect(results).toEqual([{ outcome: 'delivered', label: 'one', attempts: 4, status: 204 }]);
    expect(clock.delays).toEqual([1000, 2000, 4000]);
    expect(new Set(receiver.requests.map((r) => r.raw.toString()))).toEqual(new Set(['{"n":1}']));
  });

  it('gives up after maxAttempts, and at once on a client error that retrying cannot fix', async () => {
    receiver.respond = (r) => (r.json() as { n: number }).n === 1 ? 500 : 404;
    const { q, results, clock } = queue({ maxAttempts: 3, backoff: { initialMs: 10, factor: 3, maxMs: 50 } });
    q.enqueue('always-500', post(1));
    q.enqueue('gone', post(2));
    await q.idle();
    expect(results).toEqual([
      { outcome: 'failed', label: 'always-500', attempts: 3, status: 500, error: 'HTTP 500' },
      { outcome: 'failed', label: 'gone', attempts: 1, status: 404, error: 'HTTP 404' },
    ]);
    // 10, then 30: the cap (50) is not reached with three attempts.
    expect(clock.delays).toEqual([10, 30]);
  });

  it('honours Retry-After on 429, bounded by the backoff cap', async () => {
    const { q, results, clock } = queue({ backoff: { initialMs: 100, maxMs: 5_000 } });
    const limited = (seconds: string) => ({ status: 429, headers: { 'retry-after': seconds } });
    receiver.respond = (_r, i) => [limited('3'), limited('3600'), 429][i] ?? 200;
    q.enqueue('limited', post(1));
    await q.idle();
    expect(results[0]).toMatchObject({ outcome: 'delivered', attempts: 4 });
    // 3 s asked; an hour asked is capped at 5 s; no header: the backoff step (100 * 2^2).
    expect(clock.delays).toEqual([3000, 5000, 400]);
  });

  it('reports an unreachable receiver as a failure naming only its origin', async () => {
    await receiver.stop();
    const { q, results } = queue({ maxAttempts: 2, backoff: { initialMs: 1 } });
    q.enqueue('nobody', { url: `${receiver.url}/secret-path-token`, headers: {}, body: '{}' });
    await q.idle();
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ outcome: 'failed', attempts: 2 });
    expect(results[0].error).toContain(receiver.url);
    expect(results[0].error).not.toContain('secret-path-token');
  });

  it('never blocks the caller; a full queue drops the oldest waiting delivery', async () => {
    let release!: () => void;
    const held = new Promise<number>((resolve) => (release = () => resolve(200)));
    receiver.respond = (_r, i) => (i === 0 ? held : 200);
    const { q, results } = queue({ maxQueue: 2 });
    q.enqueue('d1', post(1));
    await receiver.received(1); // d1 is in flight and held open by the receiver
    for (const n of [2, 3, 4, 5]) q.enqueue(`d${n}`, post(n));
    expect(q.pending).toBe(2);
    expect(results).toEqual([
      { outcome: 'dropped', label: 'd2', attempts: 0, error: 'queue full (2 waiting)' },
      { outcome: 'dropped', label: 'd3', attempts: 0, error: 'queue full (2 waiting)' },
    ]);
    release();
    await q.idle();
    expect(receiver.requests.map((r) => (r.json() as { n: number }).n)).toEqual([1, 4, 5]);
    expect(results.filter((r) => r.outcome === 'delivered').map((r) => r.label)).toEqual(['d1', 'd4', 'd5']);
  });

  it('close() lets the queue drain, then abandons what is left after the grace period', async () => {
    const results: DeliveryResult[] = [];
    receiver.respond = () => new Promise<number>(() => undefined); // never answers
    const q = new DeliveryQueue({ onResult: (r) => results.push(r) });
    q.enqueue('stuck', post(1));
    q.enqueue('behind', post(2));
    await receiver.received(1);
    await q.close(10);
    expect(results.map((r) => [r.label, r.outcome])).toEqual([
      ['behind', 'dropped'],
      ['stuck', 'dropped'],
    ]);
    q.enqueue('late', post(3));
    expect(q.pending).toBe(0);
  });
});
