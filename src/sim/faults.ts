/**
 * Fault injection. A fault is a rule with a kind, an aim (method glob, class, host) and a number of remaining
 * uses; rules are consumed by matching calls in the order they were added, so tests stay deterministic. The same
 * object backs the in-process API (`sim.faults`) and the HTTP control endpoint (`POST /_sim/faults` with a
 * FaultSpec as JSON). docs/simulator.md ("Fault injection") documents every fault for users.
 */
import { WriteFreeze } from './freeze.js';
import { HeldRequests } from './held-requests.js';

/** Where a fault applies. Every given part must match; nothing given means every call. */
export interface FaultAim {
  /** Glob on the wire method name (`VM.*`, `*.get_all_records`); `Async.X` also matches `X`. Default: all. */
  methods?: string;
  /** One class (`VM`, `SR`, `task`): the same as `methods: 'VM.*'`, async forms included. */
  class?: string;
  /** Only calls that arrive at this host's listener (index in seed order). */
  host?: number;
}

/** What can be injected. Every count is "the next N matching calls"; omit what you do not want. */
export interface FaultSpec extends FaultAim {
  /** Milliseconds added to every matching call until cleared (0 removes it). */
  latencyMs?: number;
  /** `'all'`: every existing session becomes invalid now; a number: the next N calls fail SESSION_INVALID. */
  sessionInvalid?: number | 'all';
  /** The next N `event.from` (or `event.next`) calls fail EVENTS_LOST. */
  eventsLost?: number;
  /** The next N calls fail TOO_MANY_PENDING_TASKS. */
  tooManyPendingTasks?: number;
  /** The next `count` Async tasks end in failure with `[code, ...params]` (default INTERNAL_ERROR), without running. */
  taskFailure?: { count: number; code?: string; params?: string[] };
  /**
   * The next N Async tasks stay `pending` forever. By default the operation never starts and `task.cancel` ends the
   * task `cancelled` with nothing left behind; with `runFirst` the operation's effects happen, then the task hangs
   * past its last cancellation point (`allowed_operations` empty, `task.cancel` refused).
   */
  taskHang?: number | { count: number; runFirst?: boolean };
  /**
   * The next `count` requests have their connection destroyed without a reply. `writesOnly` limits it to calls
   * that change state; `afterExecute` runs the call first (the client cannot know whether it happened).
   */
  connectionReset?: { count: number; writesOnly?: boolean; afterExecute?: boolean };
  /** The next N replies are cut in the middle (full Content-Length announced, half the body sent). */
  truncatedReply?: number;
  /**
   * The next N calls run, then are answered with something that is not a XAPI reply: by default HTTP 200 with the
   * transport's content type and a body no XML-RPC or JSON-RPC parser accepts.
   */
  garbageReply?: number | { count: number; status?: number; contentType?: string; body?: string };
  /**
   * The next N requests are read and never answered: the connection stays open until the client gives up, the
   * faults are cleared or the simulator stops. `afterExecute` runs the call first.
   */
  noReply?: number | { count: number; writesOnly?: boolean; afterExecute?: boolean };
  /** Move `pool.master` to this host index (HOST_IS_SLAVE from the others). */
  failoverTo?: number;
  /**
   * The host stops answering. `silent` (default): connections are accepted and requests read, never answered.
   * `refuse`: its listener closes (connection refused, open connections dropped). Lasts until `hostRestore` or
   * `clear()`.
   */
  hostDark?: { host: number; mode?: DarkMode };
  /** Brings a dark host back (held requests on it are dropped, as a rebooted host would). */
  hostRestore?: number;
  /**
   * Freeze after the next `writes` calls that change state (matching `methods`) have executed: that
   * last call's reply and every later request are held unanswered until the faults are cleared,
   * when their connections are cut. A test then kills its client at an exact point between two writes.
   */
  freezeAfter?: { writes: number };
}

/** How a dark host fails to answer. */
export type DarkMode = 'silent' | 'refuse';

/** The counted kinds of rule. */
export type FaultKind =
  | 'sessionInvalid'
  | 'eventsLost'
  | 'tooManyPendingTasks'
  | 'taskFailure'
  | 'taskHang'
  | 'connectionReset'
  | 'truncatedReply'
  | 'garbageReply'
  | 'noReply';

/** A pending rule, as reported by `state()`. Optional fields are present only for the kinds that use them. */
export interface FaultRule {
  readonly kind: FaultKind;
  readonly methods: string;
  readonly class?: string;
  readonly host?: number;
  remaining: number;
  readonly code?: string;
  readonly params?: string[];
  readonly writesOnly?: boolean;
  readonly afterExecute?: boolean;
  readonly runFirst?: boolean;
  readonly status?: number;
  readonly contentType?: string;
  readonly body?: string;
}

/** What `state()` reports (`GET /_sim/faults`). */
export interface FaultState {
  latency: { methods: string; class?: string; host?: number; ms: number }[];
  rules: FaultRule[];
  /** Dark hosts by index. */
  dark: { host: number; mode: DarkMode }[];
  /** Requests read and not answered (noReply, silent dark hosts). */
  held: number;
  /** A freezeAfter fault has fired: every request is held. */
  frozen: boolean;
  freezeAfterWrites?: number;
}

/** A FaultSpec that does not describe faults; the message names the offending field. */
export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
  }
}

/** Calls back into the simulator for the faults that act on it rather than on one call. */
export interface FaultHooks {
  invalidateSessions(): void;
  failover(hostIndex: number): void;
  /** A host went dark (`refuse` closes its listener) or came back; a promise says when the listener is done. */
  hostDark?(hostIndex: number, mode: DarkMode): void | Promise<void>;
  hostRestore?(hostIndex: number, mode: DarkMode): void | Promise<void>;
}

const MAX_COUNT = 1_000_000;
const MAX_LATENCY_MS = 600_000;
const MAX_TEXT = 64 * 1024;

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/** True for calls that cannot change state (getters, event waits, logins are not "writes"). */
export function isReadOnlyMethod(method: string): boolean {
  const m = method.startsWith('Async.') ? method.slice(6) : method;
  return /^[^.]+\.get_/.test(m) || m.startsWith('event.') || m.startsWith('system.') || m.startsWith('session.');
}

interface Aim {
  readonly methods: string;
  readonly class?: string;
  readonly host?: number;
  readonly re: RegExp;
}

function aimOf(spec: FaultAim): Aim {
  return {
    methods: spec.methods ?? '*',
    ...(spec.class !== undefined ? { class: spec.class } : {}),
    ...(spec.host !== undefined ? { host: spec.host } : {}),
    re: globToRegExp(spec.methods ?? '*'),
  };
}

function aimKey(a: { methods: string; class?: string; host?: number }): string {
  return `${a.methods}\u0000${a.class ?? ''}\u0000${a.host ?? ''}`;
}

function hits(aim: Aim, method: string, hostIndex: number | undefined): boolean {
  const bare = method.startsWith('Async.') ? method.slice(6) : method;
  if (aim.host !== undefined && hostIndex !== undefined && aim.host !== hostIndex) return false;
  if (aim.class !== undefined && bare.slice(0, bare.indexOf('.')) !== aim.class) return false;
  return aim.re.test(method) || aim.re.test(bare);
}

/** In-process switchboard of faults. */
export class FaultController {
  private rules: (FaultRule & { readonly aim: Aim })[] = [];
  private latencies: (Aim & { ms: number })[] = [];
  private readonly dark = new Map<number, DarkMode>();
  /** Requests the transport holds without answering; cleared with the faults. */
  readonly held = new HeldRequests();
  /** The `freezeAfter` switch (freeze.ts). */
  readonly freeze = new WriteFreeze();
  private readonly hooks: FaultHooks;
  private pending: Promise<unknown>[] = [];

  constructor(hooks: FaultHooks) {
    this.hooks = hooks;
  }

  /** Adds the faults described by `spec` (see FaultSpec). Throws FaultSpecError, changing nothing, on bad input. */
  inject(input: FaultSpec): void {
    const spec = parseFaultSpec(input);
    const aim = aimOf(spec);
    const base = { methods: aim.methods, ...(aim.class !== undefined ? { class: aim.class } : {}), ...(aim.host !== undefined ? { host: aim.host } : {}), aim };
    if (spec.latencyMs !== undefined) {
      this.latencies = this.latencies.filter((l) => aimKey(l) !== aimKey(aim));
      if (spec.latencyMs > 0) this.latencies.push({ ...aim, ms: spec.latencyMs });
    }
    if (spec.sessionInvalid === 'all') this.hooks.invalidateSessions();
    else if (spec.sessionInvalid) this.rules.push({ ...base, kind: 'sessionInvalid', remaining: spec.sessionInvalid });
    if (spec.eventsLost) this.rules.push({ ...base, kind: 'eventsLost', remaining: spec.eventsLost });
    if (spec.tooManyPendingTasks) this.rules.push({ ...base, kind: 'tooManyPendingTasks', remaining: spec.tooManyPendingTasks });
    if (spec.taskFailure) {
      this.rules.push({
        ...base,
        kind: 'taskFailure',
        remaining: spec.taskFailure.count,
        code: spec.taskFailure.code ?? 'INTERNAL_ERROR',
        params: spec.taskFailure.params ?? (spec.taskFailure.code ? [] : ['injected task failure']),
      });
    }
    if (spec.taskHang !== undefined) {
      const h = typeof spec.taskHang === 'number' ? { count: spec.taskHang } : spec.taskHang;
      this.rules.push({ ...base, kind: 'taskHang', remaining: h.count, runFirst: h.runFirst ?? false });
    }
    if (spec.connectionReset) {
      const r = spec.connectionReset;
      this.rules.push({ ...base, kind: 'connectionReset', remaining: r.count, writesOnly: r.writesOnly ?? false, afterExecute: r.afterExecute ?? false });
    }
    if (spec.truncatedReply) this.rules.push({ ...base, kind: 'truncatedReply', remaining: spec.truncatedReply });
    if (spec.garbageReply !== undefined) {
      const g = typeof spec.garbageReply === 'number' ? { count: spec.garbageReply } : spec.garbageReply;
      this.rules.push({
        ...base,
        kind: 'garbageReply',
        remaining: g.count,
        ...(g.status !== undefined ? { status: g.status } : {}),
        ...(g.contentType !== undefined ? { contentType: g.contentType } : {}),
        ...(g.body !== undefined ? { body: g.body } : {}),
      });
    }
    if (spec.noReply !== undefined) {
      const n = typeof spec.noReply === 'number' ? { count: spec.noReply } : spec.noReply;
      this.rules.push({ ...base, kind: 'noReply', remaining: n.count, writesOnly: n.writesOnly ?? false, afterExecute: n.afterExecute ?? false });
    }
    if (spec.failoverTo !== undefined) this.hooks.failover(spec.failoverTo);
    if (spec.hostDark) this.setDark(spec.hostDark.host, spec.hostDark.mode ?? 'silent');
    if (spec.hostRestore !== undefined) this.restore(spec.hostRestore);
    if (spec.freezeAfter) this.freeze.arm(spec.freezeAfter.writes, aim.re);
  }

  /** Shorthands for the in-process API. */
  latency(ms: number, methods = '*'): void {
    this.inject({ latencyMs: ms, methods });
  }
  failover(toHostIndex: number): void {
    this.hooks.failover(toHostIndex);
  }
  invalidateSessions(): void {
    this.hooks.invalidateSessions();
  }
  /** Host `hostIndex` stops answering (see FaultSpec.hostDark). */
  hostDark(hostIndex: number, mode: DarkMode = 'silent'): void {
    this.inject({ hostDark: { host: hostIndex, mode } });
  }
  /** Brings host `hostIndex` back. */
  hostRestore(hostIndex: number): void {
    this.inject({ hostRestore: hostIndex });
  }

  /** Removes every rule and latency, brings dark hosts back and drops held requests. */
  clear(): void {
    this.rules = [];
    this.latencies = [];
    for (const h of [...this.dark.keys()]) this.restore(h);
    this.held.dropAll();
    this.freeze.lift();
  }

  /** What is pending, for `GET /_sim/faults`. */
  state(): FaultState {
    return {
      latency: this.latencies.map(({ re: _re, ...l }) => l),
      rules: this.rules.map(({ aim: _aim, ...r }) => ({ ...r })),
      dark: [...this.dark].map(([host, mode]) => ({ host, mode })),
      held: this.held.size,
      frozen: this.freeze.frozen,
      ...(this.freeze.pending !== undefined ? { freezeAfterWrites: this.freeze.pending } : {}),
    };
  }

  /** Added latency for `method` (the largest matching). */
  latencyFor(method: string, hostIndex?: number): number {
    let ms = 0;
    for (const l of this.latencies) if (l.ms > ms && hits(l, method, hostIndex)) ms = l.ms;
    return ms;
  }

  /**
   * Consumes one use of the first rule of `kind` aimed at `method` (and at `hostIndex` when given), returning it,
   * or undefined when none applies.
   */
  take(kind: FaultKind, method: string, filter?: (r: FaultRule) => boolean, hostIndex?: number): FaultRule | undefined {
    if (this.rules.length === 0) return undefined;
    const i = this.rules.findIndex((r) => r.kind === kind && hits(r.aim, method, hostIndex) && (!filter || filter(r)));
    if (i < 0) return undefined;
    const r = this.rules[i]!;
    r.remaining--;
    if (r.remaining <= 0) this.rules.splice(i, 1);
    const { aim: _aim, ...rule } = r;
    return rule;
  }

  /** Whether any rule of `kind` is pending (cheap check on the hot path). */
  has(kind: FaultKind): boolean {
    return this.rules.some((r) => r.kind === kind);
  }

  /** How host `hostIndex` fails to answer, or undefined while it answers. */
  darkMode(hostIndex: number): DarkMode | undefined {
    return this.dark.get(hostIndex);
  }

  private setDark(host: number, mode: DarkMode): void {
    const was = this.dark.get(host);
    if (was === mode) return;
    if (was) this.restore(host);
    // The hook first: it refuses a host that does not exist, and then nothing has changed.
    this.track(this.hooks.hostDark?.(host, mode));
    this.dark.set(host, mode);
  }

  private restore(host: number): void {
    const mode = this.dark.get(host);
    if (!mode) return;
    this.dark.delete(host);
    this.held.dropHost(host);
    this.track(this.hooks.hostRestore?.(host, mode));
  }

  private track(p: void | Promise<void>): void {
    if (p) this.pending.push(p);
  }

  /**
   * Resolves once listeners closed or reopened by `hostDark`/`hostRestore` (and `clear()`) are in their new state:
   * after it, a refused host refuses and a restored one answers.
   */
  async settled(): Promise<void> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Validation: the control endpoint takes FaultSpecs from anyone on the wire, so every field is checked and bounded.
// ---------------------------------------------------------------------------------------------------------------

type Check = (v: unknown, path: string) => void;

const bad = (path: string, what: string): never => {
  throw new FaultSpecError(`fault spec: '${path}' must be ${what}`);
};
const int =
  (min: number, max: number): Check =>
  (v, p) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(p, `an integer between ${min} and ${max}`);
  };
const text: Check = (v, p) => {
  if (typeof v !== 'string' || v.length > MAX_TEXT) bad(p, `a string of at most ${MAX_TEXT} characters`);
};
const nonEmptyText: Check = (v, p) => {
  text(v, p);
  if (v === '') bad(p, 'a non-empty string');
};
const bool: Check = (v, p) => {
  if (typeof v !== 'boolean') bad(p, 'true or false');
};
const strings: Check = (v, p) => {
  if (!Array.isArray(v) || v.length > 100) bad(p, 'a list of at most 100 strings');
  (v as unknown[]).forEach((s, i) => text(s, `${p}[${i}]`));
};
const count = int(1, MAX_COUNT);
const hostIndex = int(0, 1023);
const darkMode: Check = (v, p) => {
  if (v !== 'silent' && v !== 'refuse') bad(p, "'silent' or 'refuse'");
};

function object(fields: Record<string, Check>, required: string[] = []): Check {
  return (v, p) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(p, 'an object');
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const f = fields[k];
      if (!f) throw new FaultSpecError(`fault spec: unknown field '${p ? `${p}.` : ''}${k}' (known: ${Object.keys(fields).join(', ')})`);
      if (o[k] !== undefined) f(o[k], p ? `${p}.${k}` : k);
    }
    for (const k of required) if (o[k] === undefined) throw new FaultSpecError(`fault spec: '${p}.${k}' is required`);
  };
}

const countOr =
  (obj: Check): Check =>
  (v, p) => (typeof v === 'number' ? count(v, p) : obj(v, p));

const SPEC: Check = object({
  methods: nonEmptyText,
  class: (v, p) => {
    nonEmptyText(v, p);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v as string)) bad(p, 'a class name such as VM or SR');
  },
  host: hostIndex,
  latencyMs: int(0, MAX_LATENCY_MS),
  sessionInvalid: (v, p) => (v === 'all' ? undefined : count(v, p)),
  eventsLost: count,
  tooManyPendingTasks: count,
  taskFailure: object({ count, code: nonEmptyText, params: strings }, ['count']),
  taskHang: countOr(object({ count, runFirst: bool }, ['count'])),
  connectionReset: object({ count, writesOnly: bool, afterExecute: bool }, ['count']),
  truncatedReply: count,
  garbageReply: countOr(object({ count, status: int(100, 599), contentType: text, body: text }, ['count'])),
  noReply: countOr(object({ count, writesOnly: bool, afterExecute: bool }, ['count'])),
  failoverTo: hostIndex,
  hostDark: object({ host: hostIndex, mode: darkMode }, ['host']),
  hostRestore: hostIndex,
  freezeAfter: object({ writes: count }, ['writes']),
});

/** Checks that `input` is a FaultSpec (known fields, bounded counts and strings); throws FaultSpecError if not. */
export function parseFaultSpec(input: unknown): FaultSpec {
  SPEC(input, '');
  return input as FaultSpec;
}

/** Whether a method (or the call an `Async.` method makes) matches a fault's method pattern. */
export function matches(re: RegExp, method: string): boolean {
  return re.test(method) || (method.startsWith('Async.') && re.test(method.slice(6)));
}
