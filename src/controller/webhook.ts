import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Configuration of the `POST /webhook` route. */
export interface WebhookOptions {
  /** The shared secret configured on the Git host; requests not signed with it are refused. */
  secret: string | Buffer;
  /** Larger bodies are refused with 413 before they are read in full; default 1 MiB. */
  maxBytes?: number;
  /**
   * Only pushes to this branch trigger a fetch (GitHub/Gitea/GitLab-style `ref: refs/heads/<b>` in the
   * payload); a push elsewhere is acknowledged and ignored. Every verified delivery triggers when unset.
   */
  branch?: string;
  /** Called for a verified delivery that should trigger a fetch. Must not throw. */
  onPush(delivery: WebhookDelivery): void;
}

/** What the controller learns from a verified delivery. */
export interface WebhookDelivery {
  /** `X-GitHub-Event` / `X-Gitea-Event` / `X-Gitlab-Event`, when sent. */
  event?: string;
  /** `ref` from the payload, when it has one. */
  ref?: string;
  /** `after` from the payload: the pushed commit, when it has one. */
  after?: string;
}

export const DEFAULT_WEBHOOK_MAX_BYTES = 1024 * 1024;

/**
 * `sha256=<hex>` for `body` under `secret`, the form of GitHub's `X-Hub-Signature-256` header.
 * Exported so tests (and operators scripting a delivery) sign exactly as the server verifies.
 */
export function signWebhookBody(secret: string | Buffer, body: Buffer | string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Timing-safe check of a `sha256=<hex>` header against the body. */
export function verifyWebhookSignature(secret: string | Buffer, body: Buffer, header: string | undefined): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/i.test(header.trim())) return false;
  const expected = Buffer.from(signWebhookBody(secret, body).slice(7), 'hex');
  const given = Buffer.from(header.trim().slice(7), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Handles one `POST /webhook` request: caps the body, verifies the HMAC signature (401 when missing
 * or wrong), parses the JSON only once it is trusted, and answers 202 when a fetch was requested or
 * 200 when the delivery was verified but concerns nothing we follow (a ping, another branch).
 */
export async function handleWebhook(req: IncomingMessage, res: ServerResponse, options: WebhookOptions): Promise<void> {
  const maxBytes = options.maxBytes ?? DEFAULT_WEBHOOK_MAX_BYTES;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    reply(res, 413, { error: `payload larger than ${maxBytes} bytes` });
    req.resume();
    return;
  }
  const body = await readCapped(req, maxBytes);
  if (body === undefined) {
    reply(res, 413, { error: `payload larger than ${maxBytes} bytes` });
    return;
  }
  const signature = req.headers['x-hub-signature-256'];
  if (!verifyWebhookSignature(options.secret, body, Array.isArray(signature) ? signature[0] : signature)) {
    reply(res, 401, { error: 'missing or invalid X-Hub-Signature-256' });
    return;
  }
  const eventHeader = req.headers['x-github-event'] ?? req.headers['x-gitea-event'] ?? req.headers['x-gitlab-event'];
  const delivery: WebhookDelivery = { event: Array.isArray(eventHeader) ? eventHeader[0] : eventHeader };
  let payload: unknown;
  try {
    payload = body.length > 0 ? JSON.parse(body.toString('utf8')) : {};
  } catch {
    reply(res, 400, { error: 'payload is not JSON' });
    return;
  }
  if (payload && typeof payload === 'object') {
    const { ref, after } = payload as { ref?: unknown; after?: unknown };
    if (typeof ref === 'string') delivery.ref = ref;
    if (typeof after === 'string') delivery.after = after;
  }
  if (delivery.event === 'ping') {
    reply(res, 200, { ok: true, triggered: false, reason: 'ping' });
    return;
  }
  if (options.branch && delivery.ref && delivery.ref !== `refs/heads/${options.branch}`) {
    reply(res, 200, { ok: true, triggered: false, reason: `push to ${delivery.ref}, following refs/heads/${options.branch}` });
    return;
  }
  options.onPush(delivery);
  reply(res, 202, { ok: true, triggered: true });
}

/** Reads the body, or resolves undefined (and stops reading) once it passes `maxBytes`. */
function readCapped(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > maxBytes) {
        done = true;
        // Keep draining without buffering so the 413 reaches a client still sending.
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
}
