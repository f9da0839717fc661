import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerOf, sameSecret } from './http-guard.js';

/** The approval API (`POST /approve`, used by `xops approve`). */
export interface ApproveApiOptions {
  /** The bearer token `xops approve` must present (approvals.tokenFile). */
  token: string;
  /**
   * Records the approval (the ledger, saved) and asks for a reconcile. `pool`: the pool the caller
   * named (`xops approve --pool`), which a fleet replica needs; may throw ApproveRefused.
   */
  onApprove: (hash: string, pool?: string) => Promise<void>;
}

/** An approval the API turns down, with the status and one line to answer. */
export class ApproveRefused extends Error {
  readonly status: 400 | 404 | 503;
  constructor(status: 400 | 404 | 503, message: string) {
    super(message);
    this.status = status;
  }
}

const MAX_BODY = 1024;

/** Handles `POST /approve` with body `{"hash":"<12 hex>"}`: 204 once recorded, 401 without the token. */
export async function handleApprove(req: IncomingMessage, res: ServerResponse, opts: ApproveApiOptions): Promise<void> {
  const reply = (status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store', ...(status === 401 ? { 'www-authenticate': 'Bearer realm="xops-approve"' } : {}) });
    res.end(text + '\n');
  };
  if (req.method !== 'POST') return reply(405, 'POST only');
  const given = bearerOf(req.headers.authorization);
  if (given === undefined || !sameSecret(given, opts.token)) return reply(401, 'the approval token is required (Authorization: Bearer TOKEN)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return reply(413, `body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  let hash: unknown;
  let pool: unknown;
  try {
    ({ hash, pool } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { hash?: unknown; pool?: unknown });
  } catch {
    return reply(400, 'body must be JSON {"hash": "..."}');
  }
  if (typeof hash !== 'string' || !/^[0-9a-f]{12}$/.test(hash)) return reply(400, 'hash must be the 12 hex characters of an approval hash');
  if (pool !== undefined && (typeof pool !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(pool))) return reply(400, 'pool must be a pool name from the configuration');
  try {
    await opts.onApprove(hash, pool);
  } catch (err) {
    if (err instanceof ApproveRefused) return reply(err.status, err.message);
    throw err;
  }
  return reply(200, `approved ${hash}`);
}
