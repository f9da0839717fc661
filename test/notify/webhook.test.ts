import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryQueue } from '../../src/notify/delivery.js';
import { notificationEvent, type NotificationEvent } from '../../src/notify/events.js';
import type { NotifyFormat } from '../../src/notify/formats.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, webhookRequest } from '../../src/notify/webhook.js';
import { Receiver } from './receiver.js';

const SECRET = 'shh-notify-key';

let receiver: Receiver;
beforeEach(async () => {
  receiver = await new Receiver().start();
});
afterEach(async () => {
  await receiver.stop();
});

const event: NotificationEvent = notificationEvent(
  {
    type: 'reconcile-failed',
    commit: 'a'.repeat(40),
    summary: 'reconcile of aaaaaaaaaaaa failed: 1 action(s) failed',
    details: ['VM/web <01>: VM_BAD_POWER_STATE & more'],
  },
  'evt-1',
  new Date('2025-01-01T00:00:00Z'),
  'lab',
);

/** What a receiver does per docs/monitoring.md: HMAC-SHA256 over the raw body, compared in constant time. */
function verify(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function deliver(format: NotifyFormat, secret?: string) {
  const q = new DeliveryQueue();
  q.enqueue(event.type, webhookRequest({ url: `${receiver.url}/notify`, format, ...(secret ? { secret } : {}) }, event));
  await q.idle();
  const [r] = await receiver.received(1);
  return r;
}

describe('webhook notifications (local HTTP receiver)', () => {
  it('signs the raw body with HMAC-SHA256 so the receiver can verify it; a tampered body fails', async () => {
    const r = await deliver('generic', SECRET);
    expect(r.method).toBe('POST');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers[EVENT_HEADER]).toBe('reconcile-failed');
    expect(r.headers[DELIVERY_HEADER]).toBe('evt-1');
    expect(verify(SECRET, r.raw, r.headers[SIGNATURE_HEADER])).toBe(true);
    expect(verify('another key', r.raw, r.headers[SIGNATURE_HEADER])).toBe(false);
    expect(verify(SECRET, Buffer.concat([r.raw, Buffer.from(' ')]), r.headers[SIGNATURE_HEADER])).toBe(false);
    // The key itself is never sent.
    expect(JSON.stringify(r.headers) + r.raw.toString()).not.toContain(SECRET);
  });

  it('sends no signature header without a secret', async () => {
    const r = await deliver('generic');
    expect(r.headers[SIGNATURE_HEADER]).toBeUndefined();
  });

  it('generic: the event itself, every field', async () => {
    const r = await deliver('generic', SECRET);
    expect(r.json()).toEqual({
      id: 'evt-1',
      type: 'reconcile-failed',
      severity: 'error',
      at: '2025-01-01T00:00:00.000Z',
      pool: 'lab',
      commit: 'a'.repeat(40),
      summary: 'reconcile of aaaaaaaaaaaa failed: 1 action(s) failed',
      details: ['VM/web <01>: VM_BAD_POWER_STATE & more'],
    });
  });

  it('slack: an incoming-webhook message with a plain-text fallback and mrkdwn blocks, markup characters escaped', async () => {
    const body = (await deliver('slack', SECRET)).json() as { text: string; blocks: { type: string; text?: { type: string; text: string } }[] };
    expect(body.text).toBe('xops [lab]: reconcile-failed: reconcile of aaaaaaaaaaaa failed: 1 action(s) failed');
    expect(body.blocks.map((b) => b.type)).toEqual(['section', 'section', 'context']);
    expect(body.blocks[0].text).toEqual({ type: 'mrkdwn', text: ':x: *xops [lab]: reconcile-failed*\nreconcile of aaaaaaaaaaaa failed: 1 action(s) failed' });
    // Slack reads <...> as links and & as an entity start: sent as &lt; &gt; &amp;.
    expect(body.blocks[1].text?.text).toBe('• VM/web &lt;01&gt;: VM_BAD_POWER_STATE &amp; more');
  });

  it('teams: a message carrying one Adaptive Card', async () => {
    const body = (await deliver('teams', SECRET)).json() as {
      type: string;
      attachments: { contentType: string; content: { type: string; version: string; body: { type: string; text?: string; color?: string; facts?: unknown }[] } }[];
    };
    expect(body.type).toBe('message');
    expect(body.attachments).toHaveLength(1);
    const card = body.attachments[0];
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.content.type).toBe('AdaptiveCard');
    expect(card.content.body[0]).toMatchObject({ type: 'TextBlock', text: 'xops [lab]: reconcile-failed', color: 'attention' });
    expect(card.content.body.map((b) => b.text)).toContain('- VM/web <01>: VM_BAD_POWER_STATE & more');
    expect(card.content.body.at(-1)).toEqual({
      type: 'FactSet',
      facts: [
        { title: 'Pool', value: 'lab' },
        { title: 'Commit', value: 'a'.repeat(40) },
        { title: 'At', value: '2025-01-01T00:00:00.000Z' },
      ],
    });
  });
});
