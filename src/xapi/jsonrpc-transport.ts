import { XapiTransportError } from './errors.js';
import { post, type HttpAgents } from './http.js';
import { JsonReplyDecoder } from './json-reply-decoder.js';
import { decodeStream } from './stream-decode.js';
import type { CallOptions, Transport, WireReply } from './transport.js';

// What a host that has no JSON-RPC endpoint answers on /jsonrpc (XAPI before 1.3x: 404; some fronts: 405/501).
const NO_JSONRPC_STATUS = new Set([404, 405, 501]);

/** JSON-RPC 2.0 on `POST /jsonrpc`; also reads version 1.0 replies, which some hosts send. */
export class JsonRpcTransport implements Transport {
  readonly kind = 'jsonrpc' as const;
  private nextId = 1;
  private readonly agents: HttpAgents;
  constructor(agents: HttpAgents) {
    this.agents = agents;
  }

  send(base: URL, method: string, params: unknown[], opts: CallOptions): Promise<WireReply> {
    const id = this.nextId++;
    const body = JSON.stringify({ jsonrpc: '2.0', method, params, id });
    const url = new URL('/jsonrpc', base);
    const describeStatus = (status: number) =>
      NO_JSONRPC_STATUS.has(status) ? `the host does not speak JSON-RPC (HTTP ${status} on /jsonrpc)` : undefined;
    return post(this.agents, { url, body, contentType: 'application/json', method, describeStatus, ...opts }, async (res) => {
      const type = res.headers['content-type'] ?? '';
      if (!type.includes('json')) {
        res.resume();
        throw new XapiTransportError(url.origin, method, 'BAD_REPLY', true,
          `the host does not speak JSON-RPC (its reply to /jsonrpc is ${type || 'untyped'}, not JSON)`, undefined, true);
      }
      return decodeJsonRpcReply(await readJsonReply(res));
    });
  }
}

/** Turns a parsed JSON-RPC reply (1.0 or 2.0) into a WireReply. */
export function decodeJsonRpcReply(reply: unknown): WireReply {
  if (reply === null || typeof reply !== 'object') throw new Error('reply is not an object');
  const r = reply as { result?: unknown; error?: unknown };
  const err = r.error;
  if (err === undefined || err === null) return { ok: true, value: r.result };
  if (Array.isArray(err)) return { ok: false, error: err.map(String) };
  if (typeof err === 'object') {
    const e = err as { message?: unknown; data?: unknown };
    const data = Array.isArray(e.data) ? e.data.map(String) : e.data === undefined ? [] : [String(e.data)];
    return { ok: false, error: [String(e.message), ...data] };
  }
  return { ok: false, error: [String(err)] };
}

/** Reads a reply body through the streaming decoder, chunk by chunk (as bytes) as it arrives. */
export function readJsonReply(stream: NodeJS.ReadableStream): Promise<unknown> {
  return decodeStream(stream, new JsonReplyDecoder());
}
