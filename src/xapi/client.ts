import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { XapiError, type AsyncCallOptions, type TaskOutcome, type XapiCaller } from './caller.js';
import { XapiClosedError, XapiTaskTimeoutError, XapiTransportError, XapiUnreachableError } from './errors.js';
import { HttpAgents } from './http.js';
import { JsonRpcTransport } from './jsonrpc-transport.js';
import { Limiter } from './limiter.js';
import { BUSY_CODES, backoffDelay, isReadOnlyMethod, sleep } from './retry.js';
import { formatDuration } from './duration.js';
import { taskDeadlineMs } from './task-deadlines.js';
import { TaskWaitExpired, TaskWatcher, type TaskRecord } from './task-watcher.js';
import type { Transport, WireReply } from './transport.js';
import { XmlRpcTransport, decodeValueFragment } from './xmlrpc-transport.js';

/** How to reach and log in to a pool. */
export interface XapiClientOptions {
  /** Any host of the pool: `https://host`, `http://127.0.0.1:8080`. A supporter redirects to the master. */
  url: string;
  user: string;
  password: string;
  /** `auto` (default): JSON-RPC, falling back to XML-RPC when the host does not speak it. */
  transport?: 'auto' | 'jsonrpc' | 'xmlrpc';
  /** PEM file of the CA that signed the hosts' certificates. */
  ca?: string;
  /** Accept any certificate. */
  insecure?: boolean;
  /**
   * Per-call timeout in ms (default 60 s): the whole exchange, connecting to the last reply byte, so
   * a host that never answers, or drips its reply, fails with ETIMEDOUT after this long. Event waits
   * add their own wait time. (The CLI's `--timeout` sets this.)
   */
  timeoutMs?: number;
  /** The largest reply accepted, in bytes (default 1 GiB: get_all_records of 100k objects fits). */
  maxReplyBytes?: number;
  /**
   * Addresses (as in host records' `address`) trusted as hosts of this pool in addition to the
   * configured URL's host and the host records this client has read: HOST_IS_SLAVE and failover move
   * only to those, so credentials never go to an address the pool did not list.
   */
  knownHosts?: string[];
  /** Calls on the wire at once (default 20). */
  maxInFlight?: number;
  logger?: Logger;
  /** How long to look for a master when the current one stops answering (default 60 s). */
  failoverTimeoutMs?: number;
  /** Where a host's `address` is reached; default: the pool URL's scheme and port with that address. */
  hostUrl?: (address: string) => string;
  /**
   * How long an async call's task may run before it is cancelled and the call fails with
   * XapiTaskTimeoutError: method name (without `Async.`) → ms, `'*'` for methods the built-in
   * table (task-deadlines.ts) does not name. Entries here win over the table.
   */
  taskDeadlines?: Record<string, number>;
}

/** Call counters, for tests, benchmarks and /metrics. */
export interface XapiClientStats {
  /** Requests put on the wire, logins and retries included. */
  calls: number;
  byMethod: Map<string, number>;
  retries: number;
  logins: number;
  failovers: number;
  /** Highest number of requests in flight at once. */
  peakInFlight: number;
}

/** Per-call options for `request`. */
export interface RequestOptions {
  timeoutMs?: number;
  /** Aborting a read is always safe; aborting a write leaves its outcome unknown. */
  signal?: AbortSignal;
}

const ORIGINATOR = 'xops';
const API_VERSION = '1.1';
const MAX_REDIRECTS = 3;
const BUSY_ATTEMPTS = 6;
const PROBE_TIMEOUT_MS = 5000;
// Replies meaning "this host does not speak JSON-RPC" (as opposed to "this host is down").
const NOT_JSONRPC = /^(HTTP_4\d\d|HTTP_5\d\d|BAD_REPLY)$/;

/** Where the client is logged in: the master's URL and the session on it. */
interface Session {
  base: URL;
  ref: string;
  generation: number;
}

/**
 * Emitted as `call` after every wire request (retries, logins and event.from included): the method,
 * `success` or the XAPI error code (`transport` when no reply came), and the wall time in ms.
 */
export interface XapiCallEvent {
  method: string;
  result: string;
  ms: number;
}

/**
 * A XAPI connection to one pool: one session, re-established when it expires, moved to the master when
 * a host says it is a supporter, and moved to another host when the master stops answering. Calls are
 * bounded in flight, retried only when that cannot repeat a change, and backed off when the pool is busy.
 *
 * Events: `session` (a new login; event tokens and caches from before may be stale), `failover`,
 * `call` (XapiCallEvent).
 */
export class XapiClient extends EventEmitter implements XapiCaller {
  readonly stats: XapiClientStats = { calls: 0, byMethod: new Map(), retries: 0, logins: 0, failovers: 0, peakInFlight: 0 };
  private readonly opts: Required<Pick<XapiClientOptions, 'user' | 'timeoutMs' | 'failoverTimeoutMs'>> & XapiClientOptions;
  private readonly password: string;
  private readonly agents: HttpAgents;
  private readonly limiter: Limiter;
  private readonly tasks: TaskWatcher;
  private transport: Transport;
  private base: URL;
  private current: Session | undefined;
  private pendingLogin: Promise<Session> | undefined;
  private pendingFailover: Promise<Session> | undefined;
  private generation = 0;
  private knownHosts: string[] = [];
  // Host addresses read from the pool's host records (get_all_records, get_record, events).
  private readonly seenHosts = new Set<string>();
  private isClosed = false;
  private readonly inFlight = new Set<AbortController>();

  private constructor(opts: XapiClientOptions, transport: 'jsonrpc' | 'xmlrpc') {
    super();
    this.opts = { timeoutMs: 60_000, failoverTimeoutMs: 60_000, ...opts };
    this.password = opts.password;
    const maxInFlight = opts.maxInFlight ?? 20;
    this.limiter = new Limiter(maxInFlight);
    this.agents = new HttpAgents({
      ca: opts.ca ? readFileSync(opts.ca, 'utf8') : undefined,
      insecure: opts.insecure,
      maxSockets: maxInFlight,
    });
    this.transport = this.makeTransport(transport);
    this.base = normaliseUrl(opts.url);
    this.tasks = new TaskWatcher(this);
  }

  /**
   * Logs in (following HOST_IS_SLAVE to the master) and picks the transport. Rejects with the
   * XapiError of a refused login, or XapiTransportError when the host cannot be reached.
   */
  static async connect(opts: XapiClientOptions): Promise<XapiClient> {
    const wanted = opts.transport ?? 'auto';
    const client = new XapiClient(opts, wanted === 'xmlrpc' ? 'xmlrpc' : 'jsonrpc');
    try {
      try {
        await client.session();
      } catch (err) {
        if (wanted !== 'auto' || !(err instanceof XapiTransportError) || !NOT_JSONRPC.test(err.code)) throw err;
        client.log('info', { url: client.masterUrl }, 'host does not speak JSON-RPC; using XML-RPC');
        client.transport = client.makeTransport('xmlrpc');
        await client.session();
      }
    } catch (err) {
      client.agents.destroy();
      throw err;
    }
    return client;
  }

  /** The URL of the host currently used as master. */
  get masterUrl(): string {
    return this.base.href;
  }
  /** Which wire protocol is in use. */
  get transportKind(): 'jsonrpc' | 'xmlrpc' {
    return this.transport.kind;
  }
  /** Increments on every login: a caller holding event tokens from an older session should resync. */
  get sessionGeneration(): number {
    return this.generation;
  }
  get closed(): boolean {
    return this.isClosed;
  }
  get inFlightCount(): number {
    return this.limiter.inFlight;
  }

  /** The addresses of the pool's hosts (from the last snapshot), tried in turn when the master is gone. */
  setKnownHosts(addresses: string[]): void {
    this.knownHosts = [...new Set(addresses.filter(Boolean))];
  }

  /**
   * Whether `address` may receive this client's credentials: the configured URL's host, a host
   * record's address this client has read, or one given in `knownHosts` / setKnownHosts.
   */
  isKnownHost(address: string): boolean {
    const a = bareAddress(address);
    if (a === bareAddress(normaliseUrl(this.opts.url).hostname)) return true;
    if (this.seenHosts.has(a)) return true;
    return [...(this.opts.knownHosts ?? []), ...this.knownHosts].some((k) => bareAddress(k) === a);
  }

  call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    return this.request(method, params) as Promise<T>;
  }

  callAsync<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    return this.runAsync<T>(method, params);
  }

  /** The deadline callAsync gives the task of `method`, in ms (options first, then the built-in table). */
  taskDeadlineFor(method: string): number {
    return taskDeadlineMs(method, this.opts.taskDeadlines);
  }

  /**
   * callAsync with options: the task of `Async.<method>` gets `opts.deadlineMs` (default: the
   * per-method table); past it the task is cancelled (best effort) and destroyed, and the call
   * rejects with XapiTaskTimeoutError. The task is destroyed whatever the outcome.
   */
  async runAsync<T = unknown>(method: string, params: unknown[], opts: AsyncCallOptions = {}): Promise<T> {
    const deadlineMs = opts.deadlineMs ?? this.taskDeadlineFor(method);
    const task = (await this.request(`Async.${method}`, params)) as string;
    try {
      let rec;
      try {
        rec = await this.tasks.wait(task, deadlineMs);
      } catch (err) {
        if (!(err instanceof TaskWaitExpired)) throw err;
        const cancelled = await this.request('task.cancel', [task], { timeoutMs: Math.min(this.opts.timeoutMs, 10_000) }).then(
          () => true,
          (cancelErr: unknown) => {
            this.log('warn', { task, method, err: String(cancelErr) }, 'task.cancel failed');
            return false;
          },
        );
        this.log('warn', { task, method, deadlineMs, cancelled }, 'task passed its deadline');
        throw new XapiTaskTimeoutError(method, task, deadlineMs, cancelled, formatDuration(deadlineMs));
      }
      if (rec.status === 'success') return (await decodeValueFragment(rec.result)) as T;
      if (rec.status === 'cancelled') throw new XapiError('TASK_CANCELLED', [task], method);
      const [code = 'INTERNAL_ERROR', ...params] = (rec.error_info ?? []).map(String);
      throw new XapiError(code, params, method);
    } finally {
      this.tasks.forget(task);
      await this.request('task.destroy', [task]).catch((err: unknown) => {
        this.log('debug', { task, err: String(err) }, 'task.destroy failed');
      });
    }
  }

  /**
   * Waits for a task someone else started (e.g. an earlier, killed apply) to end, never cancelling
   * or destroying it. See XapiCaller.waitForTask for what it resolves and rejects with.
   */
  async waitForTask(task: string, opts: { deadlineMs: number }): Promise<TaskOutcome> {
    // A task that has already ended, or no longer exists, is answered without waiting on events
    // (which, with no task changing, would only come at the end of a long-poll).
    const now = (await this.request('task.get_record', [task])) as TaskRecord;
    if (now.status === 'success' || now.status === 'failure' || now.status === 'cancelled') {
      return { status: now.status, errorInfo: (now.error_info ?? []).map(String) };
    }
    try {
      const rec = await this.tasks.wait(task, opts.deadlineMs);
      return { status: rec.status as TaskOutcome['status'], errorInfo: (rec.error_info ?? []).map(String) };
    } catch (err) {
      if (err instanceof TaskWaitExpired) {
        throw new XapiTaskTimeoutError('task.wait', task, opts.deadlineMs, undefined, formatDuration(opts.deadlineMs));
      }
      throw err;
    }
  }

  /**
   * Makes one call with the session prepended, handling session expiry, master moves, busy pools
   * and unreachable masters. Rejects with XapiError (the pool refused), XapiTransportError (outcome
   * unknown, or nothing answered) or XapiUnreachableError.
   */
  async request(method: string, params: unknown[], opts: RequestOptions = {}): Promise<unknown> {
    if (this.isClosed) throw new XapiClosedError(method);
    const readOnly = isReadOnlyMethod(method);
    let relogged = false;
    let redirects = 0;
    let busy = 0;
    let failovers = 0;
    for (;;) {
      let session: Session | undefined;
      let reply: WireReply;
      try {
        session = await this.session();
        reply = await this.send(session.base, method, [session.ref, ...params], opts);
      } catch (err) {
        if (this.isClosed) throw new XapiClosedError(method);
        // A refused redirect is final: no other host would make that address trustworthy.
        if (!(err instanceof XapiTransportError) || err.code === 'ABORTED' || err.code === 'UNLISTED_HOST') throw err;
        // A write that may have run must not be repeated: report that its outcome is unknown.
        if (err.sent && !readOnly && session !== undefined) throw err;
        if (failovers++ >= 2) throw err;
        this.stats.retries++;
        await this.failover(session ?? this.current, err);
        continue;
      }
      if (reply.ok) {
        if (method.startsWith('host.') || method === 'event.from') this.learnHosts(method, reply.value);
        return reply.value;
      }
      const [code = 'INTERNAL_ERROR', ...rest] = reply.error;
      if (code === 'SESSION_INVALID' && !relogged) {
        relogged = true;
        this.stats.retries++;
        this.dropSession(session);
        continue;
      }
      if (code === 'HOST_IS_SLAVE' && rest[0] && redirects++ < MAX_REDIRECTS) {
        this.stats.retries++;
        this.checkRedirect(session.base, method, rest[0]);
        // Concurrent calls all hear it; only the first moves, the others reuse its new session.
        if (session === this.current) this.moveTo(this.hostUrl(rest[0]));
        continue;
      }
      if (BUSY_CODES.has(code) && busy < BUSY_ATTEMPTS) {
        this.stats.retries++;
        const delay = backoffDelay(busy++, 100, 5000);
        this.log('debug', { method, code, delay }, 'pool busy; backing off');
        await sleep(delay, opts.signal);
        continue;
      }
      throw new XapiError(code, rest, method);
    }
  }

  /** Logs out and releases the connections. Pending calls reject with XapiClosedError. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    const session = this.current;
    this.tasks.abortAll(new XapiClosedError('task wait'));
    for (const ac of this.inFlight) ac.abort();
    if (session) {
      await this.send(session.base, 'session.logout', [session.ref], { timeoutMs: 2000 }).catch(() => undefined);
    }
    this.current = undefined;
    this.agents.destroy();
  }

  // --- internals -------------------------------------------------------------------------------

  private makeTransport(kind: 'jsonrpc' | 'xmlrpc'): Transport {
    return kind === 'jsonrpc' ? new JsonRpcTransport(this.agents) : new XmlRpcTransport(this.agents);
  }

  /** One wire request through the in-flight limit, counted, and abortable by close(). */
  private send(base: URL, method: string, params: unknown[], opts: RequestOptions): Promise<WireReply> {
    return this.limiter.run(async () => {
      this.stats.calls++;
      this.stats.byMethod.set(method, (this.stats.byMethod.get(method) ?? 0) + 1);
      if (this.limiter.peak > this.stats.peakInFlight) this.stats.peakInFlight = this.limiter.peak;
      const ac = new AbortController();
      const onAbort = () => ac.abort();
      opts.signal?.addEventListener('abort', onAbort);
      if (opts.signal?.aborted) ac.abort();
      this.inFlight.add(ac);
      const started = performance.now();
      let result = 'transport';
      try {
        const reply = await this.transport.send(base, method, params, {
          timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs,
          signal: ac.signal,
          maxReplyBytes: this.opts.maxReplyBytes,
        });
        result = reply.ok ? 'success' : (reply.error[0] ?? 'INTERNAL_ERROR');
        return reply;
      } finally {
        this.inFlight.delete(ac);
        opts.signal?.removeEventListener('abort', onAbort);
        const ms = performance.now() - started;
        // Method names only: parameters may hold secrets (the login password, SR device_config).
        this.log('trace', { method, ms: Math.round(ms) }, 'xapi call');
        this.emit('call', { method, result, ms } satisfies XapiCallEvent);
      }
    });
  }

  /**
   * The master's URL and the client's current session (logging in first if needed), for XAPI's HTTP
   * handlers (`VdiTransfer`). The session stays the client's: the receiver must not log it out.
   */
  async transferEndpoint(): Promise<{ url: string; session: string; ca?: string; insecure?: boolean }> {
    const session = await this.session();
    return {
      url: session.base.origin,
      session: session.ref,
      ...(this.opts.ca ? { ca: readFileSync(this.opts.ca, 'utf8') } : {}),
      ...(this.opts.insecure ? { insecure: true } : {}),
    };
  }

  /** The current session, logging in (once, shared by concurrent callers) when there is none. */
  private session(): Promise<Session> {
    if (this.current) return Promise.resolve(this.current);
    if (this.pendingFailover) return this.pendingFailover;
    this.pendingLogin ??= this.login(this.base, this.opts.timeoutMs).finally(() => {
      this.pendingLogin = undefined;
    });
    return this.pendingLogin;
  }

  /** Logs in at `base`, following HOST_IS_SLAVE to the master. */
  private async login(base: URL, timeoutMs: number): Promise<Session> {
    let at = base;
    for (let redirects = 0; ; redirects++) {
      this.stats.logins++;
      const reply = await this.send(
        at,
        'session.login_with_password',
        [this.opts.user, this.password, API_VERSION, ORIGINATOR],
        { timeoutMs },
      );
      if (reply.ok) {
        const session: Session = { base: at, ref: String(reply.value), generation: ++this.generation };
        this.base = at;
        this.current = session;
        this.log('info', { url: at.origin, transport: this.transport.kind }, 'logged in');
        this.emit('session', session.generation);
        return session;
      }
      const [code = 'INTERNAL_ERROR', ...rest] = reply.error;
      if (code === 'HOST_IS_SLAVE' && rest[0] && redirects < MAX_REDIRECTS) {
        this.checkRedirect(at, 'session.login_with_password', rest[0]);
        at = this.hostUrl(rest[0]);
        continue;
      }
      throw new XapiError(code, rest.map((p) => this.scrub(p)), 'session.login_with_password');
    }
  }

  private dropSession(stale: Session | undefined): void {
    if (stale && this.current === stale) this.current = undefined;
  }

  private moveTo(base: URL): void {
    this.current = undefined;
    this.base = base;
  }

  /**
   * The master stopped answering: log in at the first host that answers as master, trying the one
   * we used, then every known host (a supporter names the master), until the failover deadline.
   * Shared by every call that noticed.
   */
  private failover(stale: Session | undefined, cause: XapiTransportError): Promise<Session> {
    if (stale && this.current !== stale && this.current) return Promise.resolve(this.current);
    this.current = undefined;
    this.pendingFailover ??= this.findMaster(cause).finally(() => {
      this.pendingFailover = undefined;
    });
    return this.pendingFailover;
  }

  private async findMaster(cause: XapiTransportError): Promise<Session> {
    this.stats.failovers++;
    this.log('warn', { url: this.base.origin, code: cause.code }, 'master not answering; looking for the master');
    const deadline = Date.now() + this.opts.failoverTimeoutMs;
    const tried = new Set<string>();
    for (let round = 0; ; round++) {
      const candidates = [this.base, normaliseUrl(this.opts.url), ...this.knownHosts.map((a) => this.hostUrl(a))];
      const seen = new Set<string>();
      for (const url of candidates) {
        if (seen.has(url.href)) continue;
        seen.add(url.href);
        tried.add(url.origin);
        if (this.isClosed) throw new XapiClosedError('failover');
        try {
          const session = await this.login(url, Math.min(PROBE_TIMEOUT_MS, this.opts.timeoutMs));
          this.emit('failover', session.base.href);
          return session;
        } catch (err) {
          if (err instanceof XapiError) throw err; // e.g. the password was changed: no host will take it
          this.log('debug', { url: url.origin, err: String(err) }, 'host not answering');
        }
      }
      if (Date.now() >= deadline) throw new XapiUnreachableError([...tried], cause);
      await sleep(Math.min(backoffDelay(round, 500, 5000) + 100, Math.max(0, deadline - Date.now())));
    }
  }

  /** Refuses to follow a HOST_IS_SLAVE to an address that is not a known host of the pool. */
  private checkRedirect(from: URL, method: string, master: string): void {
    if (this.isKnownHost(master)) return;
    this.log('warn', { from: from.origin, master }, 'HOST_IS_SLAVE names an address that is not a known host of the pool');
    throw new XapiTransportError(
      from.origin,
      method,
      'UNLISTED_HOST',
      false,
      `the host says the pool master is ${master}, which is not a host of this pool as far as xops knows; ` +
        'not sending credentials there (connect to the master directly, or list it in knownHosts)',
      undefined,
      true,
    );
  }

  /** Remembers the addresses in host records passing through (see isKnownHost). */
  private learnHosts(method: string, value: unknown): void {
    const add = (rec: unknown) => {
      const address = (rec as { address?: unknown } | null)?.address;
      if (typeof address === 'string' && address) this.seenHosts.add(bareAddress(address));
    };
    if (value === null || typeof value !== 'object') {
      if (method === 'host.get_address' && typeof value === 'string' && value) this.seenHosts.add(bareAddress(value));
      return;
    }
    if (method === 'host.get_all_records' || method === 'host.get_all_records_where') {
      for (const rec of Object.values(value)) add(rec);
    } else if (method === 'host.get_record') {
      add(value);
    } else if (method === 'event.from') {
      const events = (value as { events?: unknown }).events;
      if (Array.isArray(events)) for (const ev of events) if ((ev as { class?: unknown }).class === 'host') add((ev as { snapshot?: unknown }).snapshot);
    }
  }

  private hostUrl(address: string): URL {
    if (this.opts.hostUrl) return normaliseUrl(this.opts.hostUrl(address));
    const url = new URL(this.base.href);
    url.hostname = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
    return url;
  }

  /** Removes the password from text the server echoed back (e.g. INVALID_VALUE on a bad parameter). */
  private scrub(text: string): string {
    return this.password ? text.split(this.password).join('***') : text;
  }

  private log(level: 'trace' | 'debug' | 'info' | 'warn', obj: Record<string, unknown>, msg: string): void {
    this.opts.logger?.[level](obj, msg);
  }
}

/** An address as compared for trust: lower case, IPv6 brackets removed. */
function bareAddress(address: string): string {
  return address.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/** `host`, `host:port`, `http://host:port/anything` → the origin as a URL (https unless told otherwise). */
export function normaliseUrl(url: string): URL {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `https://${url}`;
  const u = new URL(withScheme);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`unsupported URL scheme ${u.protocol}`);
  return new URL(u.origin + '/');
}
