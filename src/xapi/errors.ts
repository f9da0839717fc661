/**
 * The request never got an XAPI answer: connection refused or reset, timeout, TLS failure, an HTTP
 * status or body that is not an XAPI reply. `sent` says whether the server may have received (and so
 * acted on) the request; a call whose request was never sent is always safe to repeat.
 */
export class XapiTransportError extends Error {
  override name = 'XapiTransportError';
  readonly url: string;
  readonly method: string;
  readonly sent: boolean;
  /** A node error code (`ECONNREFUSED`, `ETIMEDOUT`, ...) or `HTTP_<status>` / `BAD_REPLY`. */
  readonly code: string;
  constructor(url: string, method: string, code: string, sent: boolean, detail: string, cause?: unknown) {
    super(`${method} on ${url}: ${detail}`, cause === undefined ? undefined : { cause });
    this.url = url;
    this.method = method;
    this.code = code;
    this.sent = sent;
  }
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
