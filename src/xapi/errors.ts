/**
 * The request never got an XAPI answer: connection refused or reset, timeout, TLS failure, an HTTP
 * status or body that is not an XAPI reply. `sent` says whether the server may have received (and so
 * acted on) the request; a call whose request was never sent is always safe to repeat.
 *
 * The message is one line: `<method> on <url>: <reason>`, the reason in words a person understands
 * (`connection refused`, `the host does not speak TLS ...`), never OpenSSL's record text or a stack.
 */
export class XapiTransportError extends Error {
  override name = 'XapiTransportError';
  readonly url: string;
  readonly method: string;
  readonly sent: boolean;
  /**
   * A node error code (`ECONNREFUSED`, `ETIMEDOUT`, `EPROTO`, ...), `HTTP_<status>`, `BAD_REPLY` (a body
   * that is not an XAPI reply), `REPLY_TOO_LARGE` (over `maxReplyBytes`), `NOT_JSONRPC` (the host
   * answers HTTP but not JSON-RPC), `NOT_TLS` (an https URL to a plain-HTTP server), `UNLISTED_HOST`
   * (a redirect to an address the pool never listed) or `ABORTED`.
   */
  readonly code: string;
  /** The reason alone, one line, without method and URL: for messages such as `cannot reach X: <reason>`. */
  readonly reason: string;
  /** True when something answered at that address but not as an XAPI host would (wrong protocol, garbage). */
  readonly answered: boolean;
  constructor(url: string, method: string, code: string, sent: boolean, detail: string, cause?: unknown, answered = false) {
    const reason = oneLine(detail);
    super(`${method} on ${url}: ${reason}`, cause === undefined ? undefined : { cause });
    this.url = url;
    this.method = method;
    this.code = code;
    this.sent = sent;
    this.reason = reason;
    this.answered = answered;
  }
}

const MAX_REASON_CHARS = 300;

/** Collapses whitespace and newlines and caps the length: error text is printed as one line. */
export function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_REASON_CHARS ? `${flat.slice(0, MAX_REASON_CHARS)}...` : flat;
}

const ERRNO_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'host name lookup failed (DNS not answering)',
  EAI_FAIL: 'host name lookup failed',
  EHOSTUNREACH: 'no route to host',
  EHOSTDOWN: 'host is down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network is down',
  EADDRNOTAVAIL: 'local address not available',
  ECONNRESET: 'connection reset by the host',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed by the host while sending',
  ETIMEDOUT: 'connection timed out',
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS certificate does not name this host",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted (self-signed CA)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted (unknown CA)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS certificate not trusted (unknown CA)',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  CERT_NOT_YET_VALID: 'TLS certificate not yet valid',
};

/**
 * A socket or TLS error in words (`ECONNREFUSED` → `connection refused`; the code stays on the
 * error's `code`); codes without words keep their code in parentheses. TLS spoken to a plain-HTTP server (OpenSSL's "wrong version
 * number") and plain HTTP spoken to a TLS server are named as such.
 */
export function describeNetworkError(code: string, message: string, url: URL): string {
  if (code === 'NOT_TLS') return `the host does not speak TLS on port ${portOf(url)}: is it a plain http:// URL?`;
  if (code.startsWith('HPE_') || code === 'ERR_HTTP_INVALID_STATUS_CODE') {
    return url.protocol === 'http:'
      ? `the reply is not HTTP (${code}): does the host want https://?`
      : `the reply is not valid HTTP (${code})`;
  }
  if (code === 'ECONNRESET' && /socket hang up/.test(message)) return 'the host closed the connection without replying';
  const words = ERRNO_WORDS[code];
  if (words) return words;
  if (/^ERR_SSL_|^ERR_TLS_|^EPROTO$/.test(code)) return `TLS handshake failed (${code})`;
  return `${oneLine(message)}${code && !message.includes(code) ? ` (${code})` : ''}`;
}

/** OpenSSL's text for "the peer's first bytes are not a TLS record": it answered in plain HTTP. */
export function isPlainHttpOnTls(err: NodeJS.ErrnoException): boolean {
  return /wrong version number|packet length too long|http request/i.test(err.message) || err.code === 'ERR_SSL_WRONG_VERSION_NUMBER';
}

function portOf(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/** No host of the pool answered as master within the failover deadline. */
export class XapiUnreachableError extends Error {
  override name = 'XapiUnreachableError';
  readonly tried: string[];
  constructor(tried: string[], cause?: unknown) {
    super(`no pool master answered (tried ${tried.join(', ')})`, cause === undefined ? undefined : { cause });
    this.tried = tried;
  }
}

/** The client was closed while the call was pending, or before it was made. */
export class XapiClosedError extends Error {
  override name = 'XapiClosedError';
  constructor(method: string) {
    super(`${method}: client closed`);
  }
}

/**
 * An XAPI task did not reach success, failure or cancelled within its deadline (see task-deadlines.ts).
 * `cancelled` says what the client did about it: true when `task.cancel` was accepted, false when it
 * was refused or failed, undefined when the caller asked only to wait (`waitForTask`). Whatever the
 * task was doing may or may not have happened: callers must look before they repeat it.
 */
export class XapiTaskTimeoutError extends Error {
  override name = 'XapiTaskTimeoutError';
  readonly method: string;
  readonly task: string;
  readonly deadlineMs: number;
  readonly cancelled: boolean | undefined;
  constructor(method: string, task: string, deadlineMs: number, cancelled: boolean | undefined, deadlineText: string) {
    const what = cancelled === undefined ? '' : cancelled ? '; cancelled it' : '; could not cancel it';
    super(`${method}: task ${task} did not finish within ${deadlineText}${what}; its outcome is unknown`);
    this.method = method;
    this.task = task;
    this.deadlineMs = deadlineMs;
    this.cancelled = cancelled;
  }
}

/**
 * Whether `err` is one of the client's own failures (transport, unreachable pool, closed client,
 * task deadline), whose message is a complete one-line explanation: a CLI prints it as it is,
 * without a stack.
 */
export function isXapiClientError(err: unknown): err is Error {
  return (
    err instanceof XapiTransportError ||
    err instanceof XapiUnreachableError ||
    err instanceof XapiClosedError ||
    err instanceof XapiTaskTimeoutError
  );
}
