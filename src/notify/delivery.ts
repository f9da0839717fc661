import { systemClock, type Clock } from '../controller/types.js';

/** One HTTP request to deliver. `headers` may hold credentials: they are never logged. */
export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What happened to one delivery, reported once per delivery. */
export interface DeliveryResult {
  /** `delivered`: a 2xx answer; `failed`: refused (4xx) or out of attempts; `dropped`: pushed out of a full queue, or still queued at shutdown. */
  outcome: 'delivered' | 'failed' | 'dropped';
  /** What the caller called it (e.g. the event type), for logs. */
  label: string;
  attempts: number;
  /** The last HTTP status, when there was an answer. */
  status?: number;
  /** The last failure, one line, without the URL's path or any header. */
  error?: string;
}

/** Exponential backoff between attempts: `initialMs * factor^(n-1)`, capped. */
export interface RetryBackoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** Options of a DeliveryQueue. */
export interface DeliveryOptions {
  /** Waiting deliveries beyond this push out the oldest waiting one; default 100. */
  maxQueue?: number;
  /** Attempts per delivery, the first included; default 5. */
  maxAttempts?: number;
  backoff?: Partial<RetryBackoff>;
  /** One attempt is abandoned (and retried) after this long (real time); default 10 s. */
  timeoutMs?: number;
  /** Paces the backoff between attempts and the shutdown grace period. */
  clock?: Clock;
  /** Told the fate of every delivery (metrics, logs). Must not throw. */
  onResult?: (result: DeliveryResult) => void;
}

export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { initialMs: 1_000, maxMs: 60_000, factor: 2 };

interface Job {
  label: string;
  request: DeliveryRequest;
}

/** Answers worth another attempt: timeouts, rate limits and server-side errors. Other 4xx will not get better. */
function retryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * A bounded outbox of HTTP POSTs delivered one at a time, in order, by a background worker.
 * `enqueue` never waits and never throws: the reconcile loop hands over a request and moves on.
 * Each delivery is tried up to `maxAttempts` times with exponential backoff (a `Retry-After`
 * answer is honoured up to the backoff cap); when `maxQueue` deliveries already wait, the oldest
 * waiting one is dropped and reported as `dropped`.
 */
export class DeliveryQueue {
  private readonly maxQueue: number;
  private readonly maxAttempts: number;
  private readonly backoff: RetryBackoff;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly onResult: (r: DeliveryResult) => void;
  private readonly waiting: Job[] = [];
  private worker: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private waitTimer: unknown;
  private inFlight: AbortController | undefined;
  private closed = false;
  /** Set when the shutdown grace period ran out: the attempt in flight is cut off and nothing is retried. */
  private abandoned = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: DeliveryOptions = {}) {
    this.maxQueue = Math.max(1, options.maxQueue ?? 100);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.backoff = { ...DEFAULT_RETRY_BACKOFF, ...options.backoff };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.clock = options.clock ?? systemClock;
    this.onResult = options.onResult ?? (() => undefined);
  }

  /** Queues one delivery. Ignored after `close()`. */
  enqueue(label: string, request: DeliveryRequest): void {
    if (this.closed) return;
    this.waiting.push({ label, request });
    while (this.waiting.length > this.maxQueue) {
      const dropped = this.waiting.shift()!;
      this.report({ outcome: 'dropped', label: dropped.label, attempts: 0, error: `queue full (${this.maxQueue} waiting)` });
    }
    this.startWorker();
  }

  private startWorker(): void {
    if (this.worker) return;
    this.worker = this.work().finally(() => {
      this.worker = undefined;
      // A delivery queued after the worker's last look, before it was marked done.
      if (this.waiting.length > 0) return this.startWorker();
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  /** How many deliveries wait (the one being attempted not included). */
  get pending(): number {
    return this.waiting.length;
  }

  /** Resolves once every queued delivery has been delivered, failed or dropped. */
  idle(): Promise<void> {
    if (!this.worker) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking deliveries, lets the queue drain for up to `graceMs`, then abandons the attempt in
   * flight and drops what still waits (each reported as `dropped`).
   */
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    if (!this.worker) return;
    let timer: unknown;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, graceMs)))]);
    this.clock.clearTimeout(timer);
    if (!this.worker) return;
    this.abandoned = true;
    for (const job of this.waiting.splice(0)) this.report({ outcome: 'dropped', label: job.label, attempts: 0, error: 'controller shutting down' });
    this.inFlight?.abort();
    this.clock.clearTimeout(this.waitTimer);
    this.wake?.();
    await this.idle();
  }

  private async work(): Promise<void> {
    for (let job = this.waiting.shift(); job; job = this.waiting.shift()) await this.deliver(job);
  }

  private async deliver(job: Job): Promise<void> {
    let last: { status?: number; error: string; retryAfterMs?: number } = { error: 'not attempted' };
    let attempts = 0;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) {
        const step = Math.min(this.backoff.maxMs, this.backoff.initialMs * this.backoff.factor ** (attempt - 2));
        const delay = Math.min(this.backoff.maxMs, Math.max(step, last.retryAfterMs ?? 0));
        if (!(await this.pause(delay))) return this.report({ outcome: 'dropped', label: job.label, attempts, error: 'controller shutting down' });
      }
      attempts = attempt;
      const answer = await this.attempt(job.request);
      if (answer.ok) return this.report({ outcome: 'delivered', label: job.label, attempts: attempt, status: answer.status });
      last = { error: answer.error, ...(answer.status !== undefined ? { status: answer.status } : {}), ...(answer.retryAfterMs !== undefined ? { retryAfterMs: answer.retryAfterMs } : {}) };
      if (this.abandoned) return this.report({ outcome: 'dropped', label: job.label, attempts, error: 'controller shutting down' });
      if (answer.status !== undefined && !retryable(answer.status)) break;
    }
    this.report({ outcome: 'failed', label: job.label, attempts, error: last.error, ...(last.status !== undefined ? { status: last.status } : {}) });
  }

  /** Waits `ms`; false when the queue was closed and told to give up meanwhile. */
  private pause(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.wake = () => resolve(false);
      this.waitTimer = this.clock.setTimeout(() => {
        this.wake = undefined;
        this.waitTimer = undefined;
        resolve(true);
      }, ms);
    });
  }

  private async attempt(request: DeliveryRequest): Promise<{ ok: boolean; status?: number; error: string; retryAfterMs?: number }> {
    const ac = new AbortController();
    this.inFlight = ac;
    // Real time, not the injected clock: the clock paces retries, a hung receiver is cut off regardless.
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = AbortSignal.any([ac.signal, timeout]);
    try {
      const res = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body, signal, redirect: 'error' });
      // The body is not needed, but must be consumed (or cancelled) for the connection to be reused.
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return { ok: true, status: res.status, error: '' };
      const retryAfter = Number(res.headers.get('retry-after'));
      return { ok: false, status: res.status, error: `HTTP ${res.status}`, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
    } catch (err) {
      const why = timeout.aborted ? `no answer within ${this.timeoutMs} ms` : ac.signal.aborted ? 'abandoned at shutdown' : causeOf(err);
      return { ok: false, error: `${originOf(request.url)}: ${why}` };
    } finally {
      this.inFlight = undefined;
    }
  }

  private report(result: DeliveryResult): void {
    try {
      this.onResult(result);
    } catch {
      // A listener's bug must not stop deliveries.
    }
  }
}

/** fetch() reports network failures as `TypeError: fetch failed` with the reason in `cause`. */
function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? err.cause.message : err.message;
}

/**
 * `scheme://host:port` of a URL: what logs may show of a notification target. The path of a
 * Slack or Teams webhook URL is itself a credential.
 */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
