/**
 * The faults that act on the HTTP exchange rather than on the XAPI call: connection resets, requests never
 * answered, truncated and garbage replies. http-server.ts asks here what to do before and after dispatching.
 */
import type http from 'node:http';
import { isReadOnlyMethod, type FaultController, type FaultRule } from './faults.js';

/** What to do with a request whose call has not run yet: `now` acts instead of running it, `after` once it ran. */
export interface BeforeCall {
  readonly now?: 'reset' | 'hold';
  readonly after?: 'reset' | 'hold';
}

const writeFilter = (method: string) => (r: FaultRule) => !r.writesOnly || !isReadOnlyMethod(method);

/** Consumes the connection-level fault (reset or no reply) aimed at this call, if any. */
export function beforeCall(faults: FaultController, method: string, hostIndex: number): BeforeCall {
  const rule =
    (faults.has('connectionReset') ? faults.take('connectionReset', method, writeFilter(method), hostIndex) : undefined) ??
    (faults.has('noReply') ? faults.take('noReply', method, writeFilter(method), hostIndex) : undefined);
  if (!rule) return {};
  const act = rule.kind === 'connectionReset' ? 'reset' : 'hold';
  return rule.afterExecute ? { after: act } : { now: act };
}

/** Resets or holds the request's connection. */
export function act(faults: FaultController, what: 'reset' | 'hold', req: http.IncomingMessage, hostIndex: number): void {
  if (what === 'reset') req.socket.destroy();
  else faults.held.hold(req.socket, hostIndex);
}

/**
 * Sends `payload` unless a reply fault is aimed at this call; returns true when it did the sending itself
 * (truncated or garbage reply).
 */
export function sendFaultyReply(
  faults: FaultController,
  method: string,
  hostIndex: number,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  headers: Record<string, string>,
  payload: Buffer,
): boolean {
  if (faults.has('truncatedReply') && faults.take('truncatedReply', method, undefined, hostIndex)) {
    res.writeHead(200, headers);
    res.write(payload.subarray(0, Math.floor(payload.length / 2)));
    // Flush what was written, then cut the connection: the client sees a body shorter than announced.
    setImmediate(() => req.socket.destroy());
    return true;
  }
  const garbage = faults.has('garbageReply') ? faults.take('garbageReply', method, undefined, hostIndex) : undefined;
  if (garbage) {
    // Neither an XML-RPC methodResponse nor a JSON-RPC object: what a proxy or a broken host might send.
    const body = Buffer.from(garbage.body ?? 'xops sim: garbage reply \u0000\u00ff<not a XAPI reply\n', 'utf8');
    res.writeHead(garbage.status ?? 200, {
      ...headers,
      'Content-Type': garbage.contentType ?? headers['Content-Type'] ?? 'text/plain',
      'Content-Length': String(body.length),
    });
    res.end(body);
    return true;
  }
  return false;
}
