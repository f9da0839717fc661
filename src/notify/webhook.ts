import { signWebhookBody } from '../controller/webhook.js';
import type { DeliveryRequest } from './delivery.js';
import type { NotificationEvent } from './events.js';
import { notificationBody, type NotifyFormat } from './formats.js';

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body>` (the form GitHub's webhooks use). */
export const SIGNATURE_HEADER = 'x-xops-signature-256';
/** The event type, so receivers can route without parsing the body. */
export const EVENT_HEADER = 'x-xops-event';
/** The event id: the same on every retry of one delivery, so receivers can drop duplicates. */
export const DELIVERY_HEADER = 'x-xops-delivery';

/** Where and how notifications are posted. */
export interface WebhookTarget {
  url: string;
  format: NotifyFormat;
  /** HMAC-SHA256 key; the signature header is sent only when there is one. */
  secret?: string | Buffer;
}

/**
 * The POST that delivers `event` to `target`: the body in the target's format, signed over its
 * exact bytes. Pure; the body is built once, so every retry sends (and signs) the same bytes.
 */
export function webhookRequest(target: WebhookTarget, event: NotificationEvent): DeliveryRequest {
  const body = JSON.stringify(notificationBody(target.format, event));
  return {
    url: target.url,
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'xops',
      [EVENT_HEADER]: event.type,
      [DELIVERY_HEADER]: event.id,
      ...(target.secret !== undefined ? { [SIGNATURE_HEADER]: signWebhookBody(target.secret, body) } : {}),
    },
  };
}
