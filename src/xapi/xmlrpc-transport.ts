import { createRequire } from 'node:module';
import type { IncomingMessage } from 'node:http';
import { XapiTransportError } from './errors.js';
import { post, type HttpAgents } from './http.js';
import { decodeStream } from './stream-decode.js';
import { XmlRpcResponseDecoder } from './xmlrpc-decoder.js';
import type { CallOptions, Transport, WireReply } from './transport.js';

// The xmlrpc package's own client owns its HTTP requests; we need ours (keep-alive agents, timeouts,
// abort), so we use its serializer directly. Replies go through our streaming decoder (see
// xmlrpc-decoder.ts for why not the package's).
const require = createRequire(import.meta.url);
type Serializer = { serializeMethodCall(method: string, params: unknown[], encoding?: string): string };
// Loaded on the first XML-RPC call: the package and its XML builder cost a JSON-RPC process 15-20 ms at start.
let serializer: Serializer | undefined;
const xmlSerializer = (): Serializer => (serializer ??= require('xmlrpc/lib/serializer.js') as Serializer);
/** Reads a `<methodResponse>` from a stream as XAPI's `{Status, Value | ErrorDescription}` struct, chunk by chunk. */
export async function readXmlRpcReply(stream: NodeJS.ReadableStream): Promise<WireReply> {
  const reply = await decodeStream(stream, new XmlRpcResponseDecoder());
  if (reply.fault) throw new Error(`XML-RPC fault: ${JSON.stringify(reply.value)}`);
  return decodeXapiStruct(reply.value);
}

function decodeXapiStruct(value: unknown): WireReply {
  if (value !== null && typeof value === 'object' && 'Status' in value) {
    const v = value as { Status: string; Value?: unknown; ErrorDescription?: unknown };
    if (v.Status === 'Success') return { ok: true, value: v.Value };
    const desc = Array.isArray(v.ErrorDescription) ? v.ErrorDescription.map(String) : ['INTERNAL_ERROR'];
    return { ok: false, error: desc };
  }
  // system.* built-ins reply with a bare value.
  return { ok: true, value };
}

/** XML-RPC on `POST /`, the protocol every XAPI version speaks. Ints arrive as strings (see decode.ts). */
export class XmlRpcTransport implements Transport {
  readonly kind = 'xmlrpc' as const;
  private readonly agents: HttpAgents;
  constructor(agents: HttpAgents) {
    this.agents = agents;
  }

  send(base: URL, method: string, params: unknown[], opts: CallOptions): Promise<WireReply> {
    const body = xmlSerializer().serializeMethodCall(method, params);
    const url = new URL('/', base);
    return post(this.agents, { url, body, contentType: 'text/xml', method, ...opts }, (res: IncomingMessage) => {
      const type = res.headers['content-type'] ?? '';
      if (!type.includes('xml')) {
        res.resume();
        return Promise.reject(
          new XapiTransportError(url.origin, method, 'BAD_REPLY', true,
            `the host does not speak XML-RPC (its reply is ${type || 'untyped'}, not XML)`, undefined, true),
        );
      }
      return readXmlRpcReply(res);
    });
  }
}

/**
 * Decodes a task's `result`, which XAPI stores as an XML-RPC `<value>` fragment whatever protocol the
 * caller used. Returns the string for a ref or void result.
 */
export function decodeValueFragment(fragment: string): Promise<unknown> {
  if (fragment === '') return Promise.resolve('');
  const decoder = new XmlRpcResponseDecoder();
  decoder.write(`<methodResponse><params><param>${fragment}</param></params></methodResponse>`);
  return Promise.resolve(decoder.end().value);
}
