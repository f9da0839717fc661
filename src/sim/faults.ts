/**
 * Fault injection. A fault is a rule with a kind, an optional method pattern and a number of remaining uses;
 * rules are consumed by matching calls in the order they were added. The same object backs the in-process API
 * (`sim.faults`) and the HTTP control endpoint (`POST /_sim/faults` with a FaultSpec as JSON).
 */
import { WriteFreeze } from './freeze.js';

/** What can be injected. Every count is "the next N matching calls"; omit what you do not want. */
export interface FaultSpec {
  /** Glob on the wire method name (`VM.*`, `*.get_all_records`); `Async.X` also matches `X`. Default: all. */
  methods?: string;
  /** Milliseconds added to every matching call until cleared (0 removes it). */
  latencyMs?: number;
  /** `'all'`: every existing session becomes invalid now; a number: the next N calls fail SESSION_INVALID. */
  sessionInvalid?: number | 'all';
  /** The next N `event.from` (or `event.next`) calls fail EVENTS_LOST. */
  eventsLost?: number;
  /** The next N calls fail TOO_MANY_PENDING_TASKS. */
  tooManyPendingTasks?: number;
  /** The next `count` Async tasks end in failure with `[code, ...params]` (default INTERNAL_ERROR). */
  taskFailure?: { count: number; code?: string; params?: string[] };
  /**
   * The next `count` requests have their connection destroyed without a reply. `writesOnly` limits it to calls
   * that change state; `afterExecute` runs the call first (the client cannot know whether it happened).
   */
  connectionReset?: { count: number; writesOnly?: boolean; afterExecute?: boolean };
  /** The next N replies are cut in the middle (full Content-Length announced, half the body sent). */
  truncatedReply?: number;
  /** Move `pool.master` to this host index (HOST_IS_SLAVE from the others). */
  failoverTo?: number;
  /**
   * Freeze after the next `writes` calls that change state (matching `methods`) have executed: that
   * last call's reply and every later request are held unanswered until the faults are cleared,
   * when their connections are cut. A test then kills its client at an exact point between two writes.
   */
  freezeAfter?: { writes: number };
}

/** A pending rule, as reported by `state()`. */
export interface FaultRule {
  readonly kind: 'sessionInvalid' | 'eventsLost' | 'tooManyPendingTasks' | 'taskFailure' | 'connectionReset' | 'truncatedReply';
  readonly methods: string;
  remaining: number;
  readonly code?: string;
  readonly params?: string[];
  readonly writesOnly?: boolean;
  readonly afterExecute?: boolean;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/** True for calls that cannot change state (getters, event waits, logins are not "writes"). */
export function isReadOnlyMethod(method: string): boolean {
  const m = method.startsWith('Async.') ? method.slice(6) : method;
  return /^[^.]+\.get_/.test(m) || m.startsWith('event.') || m.startsWith('system.') || m.startsWith('session.');
}

/** In-process switchboard of faults. */
export class FaultController {
  private rules: FaultRule[] = [];
  private latencies: { methods: string; re: RegExp; ms: number }[] = [];
  /** The `freezeAfter` switch (freeze.ts). */
  readonly freeze = new WriteFreeze();
  private readonly onInvalidateSessions: () => void;
  private readonly onFailover: (hostIndex: number) => void;

  constructor(hooks: { invalidateSessions: () => void; failover: (hostIndex: number) => void }) {
    this.onInvalidateSessions = hooks.invalidateSessions;
    this.onFailover = hooks.failover;
  }

  /** Adds the faults described by `spec` (see FaultSpec). */
  inject(spec: FaultSpec): void {
    const methods = spec.methods ?? '*';
    if (spec.latencyMs !== undefined) {
      this.latencies = this.latencies.filter((l) => l.methods !== methods);
      if (spec.latencyMs > 0) this.latencies.push({ methods, re: globToRegExp(methods), ms: spec.latencyMs });
    }
    if (spec.sessionInvalid === 'all') this.onInvalidateSessions();
    else if (spec.sessionInvalid) this.rules.push({ kind: 'sessionInvalid', methods, remaining: spec.sessionInvalid });
    if (spec.eventsLost) this.rules.push({ kind: 'eventsLost', methods, remaining: spec.eventsLost });
    if (spec.tooManyPendingTasks) this.rules.push({ kind: 'tooManyPendingTasks', methods, remaining: spec.tooManyPendingTasks });
    if (spec.taskFailure && spec.taskFailure.count > 0) {
      this.rules.push({
        kind: 'taskFailure',
        methods,
        remaining: spec.taskFailure.count,
        code: spec.taskFailure.code ?? 'INTERNAL_ERROR',
        params: spec.taskFailure.params ?? (spec.taskFailure.code ? [] : ['injected task failure']),
      });
    }
    if (spec.connectionReset && spec.connectionReset.count > 0) {
      this.rules.push({
        kind: 'connectionReset',
        methods,
        remaining: spec.connectionReset.count,
        writesOnly: spec.connectionReset.writesOnly ?? false,
        afterExecute: spec.connectionReset.afterExecute ?? false,
      });
    }
    if (spec.truncatedReply) this.rules.push({ kind: 'truncatedReply', methods, remaining: spec.truncatedReply });
    if (spec.failoverTo !== undefined) this.onFailover(spec.failoverTo);
    if (spec.freezeAfter) this.freeze.arm(spec.freezeAfter.writes, globToRegExp(methods));
  }

  /** Shorthands for the in-process API. */
  latency(ms: number, methods = '*'): void {
    this.inject({ latencyMs: ms, methods });
  }
  failover(toHostIndex: number): void {
    this.onFailover(toHostIndex);
  }
  invalidateSessions(): void {
    this.onInvalidateSessions();
  }

  /** Removes every rule and latency, and lifts a freeze (held requests get their connection cut). */
  clear(): void {
    this.rules = [];
    this.latencies = [];
    this.freeze.lift();
  }

  /** What is pending, for `GET /_sim/faults`. */
  state(): { latency: { methods: string; ms: number }[]; rules: FaultRule[]; frozen: boolean; freezeAfterWrites?: number } {
    return {
      latency: this.latencies.map(({ methods, ms }) => ({ methods, ms })),
      rules: this.rules.map((r) => ({ ...r })),
      frozen: this.freeze.frozen,
      ...(this.freeze.pending !== undefined ? { freezeAfterWrites: this.freeze.pending } : {}),
    };
  }

  /** Added latency for `method` (the largest matching). */
  latencyFor(method: string): number {
    let ms = 0;
    for (const l of this.latencies) if (matches(l.re, method) && l.ms > ms) ms = l.ms;
    return ms;
  }

  /** Consumes one use of the first matching rule of `kind`, returning it (or undefined when none applies). */
  take(kind: FaultRule['kind'], method: string, filter?: (r: FaultRule) => boolean): FaultRule | undefined {
    const i = this.rules.findIndex((r) => r.kind === kind && matches(globToRegExp(r.methods), method) && (!filter || filter(r)));
    if (i < 0) return undefined;
    const r = this.rules[i]!;
    r.remaining--;
    if (r.remaining <= 0) this.rules.splice(i, 1);
    return r;
  }

  /** Whether any rule of `kind` is pending (cheap check on the hot path). */
  has(kind: FaultRule['kind']): boolean {
    return this.rules.some((r) => r.kind === kind);
  }
}

export function matches(re: RegExp, method: string): boolean {
  return re.test(method) || (method.startsWith('Async.') && re.test(method.slice(6)));
}
