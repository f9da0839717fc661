import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { XapiTransportError } from './errors.js';

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
  timeoutMs: number;
  signal?: AbortSignal;
}

// Errors raised before the request could have reached a server: connecting failed.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/**
 * POSTs `body` and hands the response stream to `read`, which resolves with the decoded reply.
 * Every failure becomes an XapiTransportError saying whether the server may have seen the request.
 */
export function post<T>(agents: HttpAgents, req: PostRequest, read: (res: IncomingMessage) => Promise<T>): Promise<T> {
  const where = req.url.origin;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const lib = req.url.protocol === 'https:' ? https : http;
    const request = lib.request(req.url, {
      method: 'POST',
      agent: agents.for(req.url),
      headers: { 'content-type': req.contentType, 'content-length': Buffer.byteLength(req.body), accept: req.contentType },
    });
    // Attached first: destroy() below emits 'error' again, which must never go unhandled.
    request.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'EIO';
      // A reset may come after the host ran the call, so it counts as sent: writes are not repeated.
      // (Idle sockets are dropped before hosts typically close them, see HttpAgents, to keep this rare.)
      const sent = !NOT_SENT_CODES.has(code);
      finish(new XapiTransportError(where, req.method, code, sent, err.message, err));
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
    const timer = setTimeout(
      () => finish(new XapiTransportError(where, req.method, 'ETIMEDOUT', true, `no reply within ${req.timeoutMs} ms`)),
      req.timeoutMs,
    );
    const onAbort = () => finish(new XapiTransportError(where, req.method, 'ABORTED', true, 'aborted'));
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort);
    request.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(new XapiTransportError(where, req.method, `HTTP_${res.statusCode}`, true, `HTTP ${res.statusCode}`));
        return;
      }
      res.on('error', (err: NodeJS.ErrnoException) =>
        finish(new XapiTransportError(where, req.method, err.code ?? 'EIO', true, err.message, err)),
      );
      read(res).then(
        (value) => finish(undefined, value),
        (err: unknown) =>
          finish(
            err instanceof XapiTransportError
              ? err
              : new XapiTransportError(where, req.method, 'BAD_REPLY', true, `unreadable reply: ${(err as Error).message}`, err),
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
