/**
 * The narrow surface that code making XAPI calls depends on (observe, apply, controller), so it can
 * run against the real client or a recording fake. The session is managed by the implementation:
 * callers pass the message's parameters without the session ref.
 */
export interface XapiCaller {
  /** `call('VM.get_record', ref)`; rejects with XapiError on an XAPI failure. */
  call<T = unknown>(method: string, ...params: unknown[]): Promise<T>;
  /**
   * Runs `Async.<method>`, waits for the task to finish (through task events), destroys the task and
   * resolves with its decoded result, or rejects with the task's XapiError.
   */
  callAsync<T = unknown>(method: string, ...params: unknown[]): Promise<T>;
  /**
   * Like callAsync with a deadline of the caller's choosing (the client's default comes from its
   * per-method table). On expiry the task is cancelled and destroyed and the call rejects with
   * XapiTaskTimeoutError. Optional so that recording fakes need not implement it.
   */
  runAsync?<T = unknown>(method: string, params: unknown[], opts?: AsyncCallOptions): Promise<T>;
  /**
   * Waits for a task this caller did not start (e.g. one left by an earlier run) to end, up to
   * `deadlineMs`; never cancels or destroys it. Resolves with its final status and error, rejects
   * with XapiTaskTimeoutError (cancelled: undefined) at the deadline, or with XapiError
   * HANDLE_INVALID when the task is destroyed before it ends. Optional, like runAsync.
   */
  waitForTask?(task: string, opts: { deadlineMs: number }): Promise<TaskOutcome>;
  /**
   * Where XAPI's HTTP handlers (`/import_raw_vdi`, `/export_raw_vdi`) are reached, with a session the
   * caller keeps (the receiver must never log it out); absent on callers that cannot hand one out.
   * The shape of `TransferEndpoint` (src/xapi/vdi-transfer.ts).
   */
  transferEndpoint?(): Promise<{ url: string; session: string; ca?: string; insecure?: boolean }>;
  /**
   * The deadline, in ms, this caller gives the task of `method` (the operator's per-method table):
   * wrappers that watch tasks themselves (apply's per-action deadline) must keep to it too.
   */
  taskDeadlineFor?(method: string): number;
}

/** Per-call options of `runAsync`. */
export interface AsyncCallOptions {
  /** How long the task may run, in ms (default: the client's table for the method). */
  deadlineMs?: number;
}

/** How a task ended, as `waitForTask` reports it. */
export interface TaskOutcome {
  status: 'success' | 'failure' | 'cancelled';
  /** XAPI's `[code, ...params]` for a failure; empty otherwise. */
  errorInfo: string[];
}

/** An XAPI failure: `[code, ...params]` as the server sent it, plus the call that failed. */
export class XapiError extends Error {
  override name = 'XapiError';
  readonly code: string;
  readonly params: string[];
  readonly method: string;
  constructor(code: string, params: string[], method: string) {
    super(`${method}: ${[code, ...params].join(' ')}`);
    this.code = code;
    this.params = params;
    this.method = method;
  }
}
