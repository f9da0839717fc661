/** What a host replied to one call: the value, or XAPI's `[code, ...params]` failure list. */
export type WireReply = { ok: true; value: unknown } | { ok: false; error: string[] };

/** Per-call knobs a transport honours. */
export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Reply size cap in bytes (see DEFAULT_MAX_REPLY_BYTES in http.ts). */
  maxReplyBytes?: number;
}

/**
 * One wire protocol (JSON-RPC or XML-RPC) over HTTP keep-alive. A transport knows envelopes and
 * value encodings only; sessions, retries and failover belong to the client.
 */
export interface Transport {
  readonly kind: 'jsonrpc' | 'xmlrpc';
  /** Sends `method(params)` to the host at `base` (scheme://host:port). Rejects only with XapiTransportError. */
  send(base: URL, method: string, params: unknown[], opts: CallOptions): Promise<WireReply>;
}
