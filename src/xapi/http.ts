import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { XapiTransportError, describeNetworkError, isPlainHttpOnTls } from './errors.js';
import { formatDuration } from './duration.js';

/** How to reach hosts: the TLS trust settings and the keep-alive agents shared by every request. */
export interface HttpSettings {
  /** PEM text of the CA to trust for https URLs (instead of the system store). */
  ca?: string;
  /** Accept any certificate (self-signed pools). */
  insecure?: boolean;
  /** Sockets kept per host; at least the number of calls allowed in flight. */
  maxSockets: number;
}

const IDLE_SOCKET_MS = 4000;

/** Keep-alive agents for http and https, made once per client so connections are reused across calls. */
export class HttpAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
  constructor(settings: HttpSettings) {
    // Idle sockets are closed after 4 s, before the usual 5 s server keep-alive timeout, so a request
    // is rarely written to a socket the host is closing (whose reset would leave a write's outcome unknown).
    this.http = new http.Agent({ keepAlive: true, maxSockets: settings.maxSockets, timeout: IDLE_SOCKET_MS });
    this.https = new https.Agent({
      keepAlive: true,
      timeout: IDLE_SOCKET_MS,
      maxSockets: settings.maxSockets,
      ca: settings.ca,
      rejectUnauthorized: !settings.insecure,
    });
  }
  for(url: URL): http.Agent {
    return url.protocol === 'https:' ? this.https : this.http;
  }
  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** One POST's inputs. `method` is the XAPI method, only used to label errors. */
export interface PostRequest {
  url: URL;
  body: string;
  contentType: string;
  method: string;
  /** The whole exchange, connect to last reply byte: a hung or dripping server fails at this point. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The most reply bytes read before giving up (default DEFAULT_MAX_REPLY_BYTES). */
  maxReplyBytes?: number;
  /** Words for an HTTP status this protocol gives a meaning to (e.g. 404 on /jsonrpc), else undefined. */
  describeStatus?: (status: number) => string | undefined;
}

/**
 * The default cap on one reply: room for `get_all_records` of 100k objects (about 2.5 KB each in
 * JSON, three times that in XML-RPC), while still bounding what a broken server can make us hold.
 */
export const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024 * 1024;

// Errors raised before the request could have reached a server: connecting failed.
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EAI_FAIL', 'EADDRNOTAVAIL', 'ENETDOWN', 'EHOSTDOWN',
  'NOT_TLS', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * POSTs `body` and hands the response stream to `read`, which resolves with the decoded reply.
 * Every failure becomes an XapiTransportError with a one-line reason, saying whether the server may
 * have seen the request. The reply is bounded in time (`timeoutMs`) and size (`maxReplyBytes`).
 */
export function post<T>(agents: HttpAgents, req: PostRequest, read: (res: IncomingMessage) => Promise<T>): Promise<T> {
  const where = req.url.origin;
  const cap = req.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let received = -1; // -1 until the response head arrives
    const lib = req.url.protocol === 'https:' ? https : http;
    const request = lib.request(req.url, {
      method: 'POST',
      agent: agents.for(req.url),
      headers: { 'content-type': req.contentType, 'content-length': Buffer.byteLength(req.body), accept: req.contentType },
    });
    const fail = (code: string, sent: boolean, detail: string, cause?: unknown, answered = false) =>
      finish(new XapiTransportError(where, req.method, code, sent, detail, cause, answered));
    // Attached first: destroy() below emits 'error' again, which must never go unhandled.
    request.on('error', (err: NodeJS.ErrnoException) => {
      let code = err.code ?? 'EIO';
      if (req.url.protocol === 'https:' && isPlainHttpOnTls(err)) code = 'NOT_TLS';
      // A reset may come after the host ran the call, so it counts as sent: writes are not repeated.
      // (Idle sockets are dropped before hosts typically close them, see HttpAgents, to keep this rare.)
      const sent = !NOT_SENT_CODES.has(code);
      fail(code, sent, describeNetworkError(code, err.message, req.url), err, code === 'NOT_TLS' || code.startsWith('HPE_'));
    });
    const finish = (err: XapiTransportError | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (err) {
        request.destroy();
        reject(err);
      } else resolve(value as T);
    };
    const timer = setTimeout(() => {
      const within = formatDuration(req.timeoutMs);
      if (received < 0) fail('ETIMEDOUT', true, `no reply within ${within}`);
      else fail('ETIMEDOUT', true, `reply not complete within ${within} (${received} bytes received)`, undefined, true);
    }, req.timeoutMs);
    const onAbort = () => fail('ABORTED', true, 'aborted');
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort);
    request.on('response', (res) => {
      received = 0;
      if (res.statusCode !== 200) {
        res.resume();
        const status = res.statusCode ?? 0;
        const words = req.describeStatus?.(status) ?? `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
        fail(`HTTP_${status}`, true, words, undefined, true);
        return;
      }
      const announced = Number(res.headers['content-length']);
      if (announced > cap) {
        res.resume();
        fail('REPLY_TOO_LARGE', true, `reply of ${announced} bytes is over the ${cap}-byte limit (maxReplyBytes)`, undefined, true);
        return;
      }
      // Registered before `read` attaches its own listener, so an oversized chunk is refused first.
      res.on('data', (chunk: Buffer | string) => {
        received += chunk.length;
        if (received > cap) fail('REPLY_TOO_LARGE', true, `reply over the ${cap}-byte limit (maxReplyBytes)`, undefined, true);
      });
      res.on('error', (err: NodeJS.ErrnoException) =>
        fail(err.code ?? 'EIO', true, describeNetworkError(err.code ?? 'EIO', err.message, req.url), err),
      );
      read(res).then(
        (value) => finish(undefined, value),
        (err: unknown) =>
          finish(
            err instanceof XapiTransportError
              ? err
              : new XapiTransportError(where, req.method, 'BAD_REPLY', true, `unreadable reply: ${(err as Error).message}`, err, true),
          ),
      );
    });
    request.end(req.body);
  });
}

/** Collects a response body as one string. */
export function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
