/** One XAPI call as the simulator answered it. */
export interface LoggedCall {
  /** Order of completion, from 1. */
  seq: number;
  /** When the call arrived (ms since the epoch, wall clock). */
  at: number;
  /** The wire method name (`Async.` kept). */
  method: string;
  /** The session ref the call was made with; '' for calls without one (login, system.*). */
  session: string;
  /** The parameters after the session; none for `session.*` calls (they carry the password). */
  args: unknown[];
  ok: boolean;
  /** The error code when the call failed. */
  error?: string;
}

/**
 * A record of the calls made to one simulated pool, off until `start()`, so that a test can tell
 * who did what and when (e.g. that two controllers never wrote to one pool at once). Bounded: past
 * `limit` entries the oldest are dropped and counted in `dropped`.
 */
export class CallLog {
  private list: LoggedCall[] = [];
  private on = false;
  private limit = 100_000;
  private seq = 0;
  /** Entries dropped because the log was full. */
  dropped = 0;

  /** Starts recording (again), keeping at most `limit` entries. */
  start(limit = 100_000): void {
    this.on = true;
    this.limit = Math.max(1, limit);
  }

  stop(): void {
    this.on = false;
  }

  get recording(): boolean {
    return this.on;
  }

  /** The calls recorded so far, in order of completion. */
  entries(): readonly LoggedCall[] {
    return this.list;
  }

  clear(): void {
    this.list = [];
    this.dropped = 0;
  }

  /** Called by the dispatcher once a call is answered; a no-op unless recording. */
  record(call: Omit<LoggedCall, 'seq'>): void {
    if (!this.on) return;
    this.list.push({ seq: ++this.seq, ...call, args: call.method.startsWith('session.') ? [] : call.args });
    if (this.list.length > this.limit) {
      const over = this.list.length - this.limit;
      this.list.splice(0, over);
      this.dropped += over;
    }
  }
}
