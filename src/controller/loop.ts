import { formatDiagnostic } from '../model/diagnostics.js';
import { deniedAddresses } from '../plan/pipeline.js';
import type { ManifestSource, SourceSnapshot } from '../source/types.js';
import type { ControllerMetrics } from './metrics.js';
import type { ReconcileSummary, StatusStore } from './status.js';
import { systemClock, type Clock, type ReconcileFn, type ReconcileOutcome, type TriggerReason } from './types.js';

/** The subset of a pino logger the loop writes to. */
export interface LoopLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Exponential backoff after failed reconciles: `initialMs * factor^(n-1)`, capped, with jitter. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** Configuration of a reconcile loop (one per pool). */
export interface LoopOptions {
  source: ManifestSource;
  reconcile: ReconcileFn;
  status: StatusStore;
  metrics?: ControllerMetrics;
  logger?: LoopLogger;
  clock?: Clock;
  /** Uniform in [0, 1); jitter source. */
  random?: () => number;
  /** How often to fetch the source; 0 = never (a watched local folder triggers by itself). */
  pollIntervalMs?: number;
  /** How often to reconcile even when nothing asked (catches drift missed by events); 0 = never. */
  resyncIntervalMs?: number;
  backoff?: Partial<BackoffOptions>;
  /**
   * Asked before each reconcile; a string is why this instance must not act now (another instance
   * holds the pool's lease). The lease keeper requests a reconcile once it may act again.
   */
  standbyReason?: () => string | undefined;
  /** Told every finished reconcile (history, notifications); must not throw. */
  onReconciled?: (summary: ReconcileSummary, outcome: ReconcileOutcome) => void;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 5 * 60_000, factor: 2 };

/** Reasons that need the source read again before reconciling. */
const FETCHING: ReadonlySet<TriggerReason> = new Set(['startup', 'poll', 'webhook', 'file-change']);
/** Reasons that come from a person changing the source: worth cutting a backoff wait short. */
const URGENT: ReadonlySet<TriggerReason> = new Set(['webhook', 'file-change']);
/** Reasons that ask to look at the pool again even when the commit has not changed. */
const POOL_SIDE: ReadonlySet<TriggerReason> = new Set(['startup', 'xapi-event', 'resync', 'retry', 'window']);
/** Longest timer Node accepts; a window further out is re-examined then (or at the next resync). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * Reconcile this long after a window opens: the reconcile's clock must see the window open, and
 * cron gives its exact opening instant.
 */
const WINDOW_MARGIN_MS = 1_000;

/**
 * The level-based reconcile loop of one pool. Triggers only call `request(reason)`: requests made
 * while a reconcile runs are merged into one more run, so at most one reconcile runs at a time and
 * at most one waits. Each run reads the source when a trigger asked for it, then reconciles the
 * newest valid commit against the pool:
 * - a commit the reconciler calls invalid is reported and remembered, and the last good commit stays
 *   in force (later pool-side triggers reconcile the last good one) until the source moves on;
 * - a failure (error, unreachable pool or source) is retried after an exponential backoff with jitter,
 *   reset by the next success; a webhook or file change cuts the wait short;
 * - a fetch that finds the commit already reconciled successfully does nothing.
 */
export class ReconcileLoop {
  private readonly opts: LoopOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly backoff: BackoffOptions;

  /** The newest snapshot read from the source. */
  private latest: SourceSnapshot | undefined;
  /** The last snapshot the reconciler accepted as valid: what stays in force. */
  private lastGood: SourceSnapshot | undefined;
  private rejectedCommit: string | undefined;
  /** Commit of the last successful reconcile, to skip polls that found nothing new. */
  private settledCommit: string | undefined;
  private failures = 0;

  private pending = new Set<TriggerReason>();
  private running: Promise<void> | undefined;
  private runTimer: unknown;
  private retryTimer: unknown;
  private pollTimer: unknown;
  private resyncTimer: unknown;
  /** Wakes the loop when the next maintenance window that releases a held action opens. */
  private windowTimer: unknown;
  /** When the running reconcile started (clock ms); undefined when none runs. */
  private runningSince: number | undefined;
  private abort = new AbortController();
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: LoopOptions) {
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  }

  /** Starts the periodic triggers and asks for the first reconcile. */
  start(): void {
    this.request('startup');
    this.schedulePoll();
    this.scheduleResync();
  }

  /** Asks for a reconcile. Cheap and safe to call from any trigger, any number of times. */
  request(reason: TriggerReason): void {
    if (this.stopped) return;
    this.pending.add(reason);
    if (this.retryTimer !== undefined && URGENT.has(reason)) {
      this.clock.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.pending.add('retry');
    }
    this.kick();
  }

  /** The commit in force (last valid one), if any. */
  get commitInForce(): string | undefined {
    return this.lastGood?.commit;
  }

  /** How long the reconcile in flight has been running (ms), or undefined when none runs. */
  runningForMs(): number | undefined {
    return this.runningSince === undefined ? undefined : this.clock.now() - this.runningSince;
  }

  /** Resolves once no reconcile runs or waits to run (a retry waiting on backoff does not count). */
  idle(): Promise<void> {
    if (!this.running && this.runTimer === undefined && (this.pending.size === 0 || this.retryTimer !== undefined)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops the triggers, tells the reconcile in flight to stop after its current action (through the
   * AbortSignal it was given) and waits for it to return.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.runTimer, this.retryTimer, this.pollTimer, this.resyncTimer, this.windowTimer]) if (t !== undefined) this.clock.clearTimeout(t);
    this.runTimer = this.retryTimer = this.pollTimer = this.resyncTimer = this.windowTimer = undefined;
    this.pending.clear();
    this.abort.abort();
    await this.running;
    this.notifyIdle();
  }

  private kick(): void {
    if (this.running || this.runTimer !== undefined || this.retryTimer !== undefined || this.pending.size === 0 || this.stopped) return;
    // A zero-delay timer, not a direct call: requests made in the same tick join one run.
    this.runTimer = this.clock.setTimeout(() => {
      this.runTimer = undefined;
      const reasons = this.pending;
      this.pending = new Set();
      this.running = this.run(reasons).finally(() => {
        this.running = undefined;
        this.kick();
        this.notifyIdle();
      });
    }, 0);
  }

  private notifyIdle(): void {
    if (this.running || this.runTimer !== undefined) return;
    if (this.pending.size > 0 && this.retryTimer === undefined && !this.stopped) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async run(reasons: Set<TriggerReason>): Promise<void> {
    const { source, status, metrics, logger } = this.opts;
    const trigger = [...reasons];
    const wantsFetch = trigger.some((r) => FETCHING.has(r)) || !this.latest;
    if (wantsFetch) {
      try {
        const snapshot = await source.sync();
        this.latest = snapshot;
        status.sourceSynced(snapshot.commit, new Date(this.clock.now()));
        metrics?.sourceSyncs.inc({ result: 'success' });
      } catch (err) {
        const message = errorMessage(err);
        status.sourceFailed(message, new Date(this.clock.now()));
        metrics?.sourceSyncs.inc({ result: 'failure' });
        logger?.warn({ err: message, source: source.description, trigger }, 'source sync failed; keeping the last good commit');
      }
    }
    if (!this.latest) {
      this.failed(reasons, 'no revision of the source could be read yet');
      return;
    }
    const target = this.latest.commit === this.rejectedCommit ? this.lastGood : this.latest;
    if (!target) return; // every revision seen so far is invalid: nothing to apply
    const poolSide = trigger.some((r) => POOL_SIDE.has(r));
    // A fetch that found nothing new: the pool was already reconciled to this commit. (A failed fetch
    // is not retried here either: the next poll or webhook tries again.)
    if (!poolSide && target.commit === this.settledCommit) return;
    const standby = this.opts.standbyReason?.();
    this.opts.status.standby(standby);
    if (standby) {
      logger?.info({ reason: standby }, 'not reconciling: standing by');
      return;
    }
    await this.reconcile(target, trigger);
  }

  private async reconcile(target: SourceSnapshot, trigger: TriggerReason[]): Promise<void> {
    const { status, metrics, logger } = this.opts;
    const started = this.clock.now();
    logger?.info({ commit: target.commit, trigger }, 'reconcile started');
    let outcome: ReconcileOutcome;
    this.runningSince = started;
    try {
      outcome = target.untrusted !== undefined
        ? { ok: false, invalid: [{ severity: 'error', code: 'untrusted-commit', message: target.untrusted }] }
        : await this.opts.reconcile({ commit: target.commit, files: target.files, signal: this.abort.signal });
    } catch (err) {
      outcome = { ok: false, error: errorMessage(err) };
    } finally {
      this.runningSince = undefined;
    }
    const finished = this.clock.now();
    const result: ReconcileSummary['result'] = outcome.invalid?.length ? 'invalid' : outcome.ok ? 'success' : 'failure';
    const applied = outcome.applied ?? [];
    const summary: ReconcileSummary = {
      trigger,
      commit: target.commit,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - started,
      result,
      ...(outcome.error ? { error: outcome.error } : {}),
      actions: {
        planned: outcome.plan?.actions.length ?? 0,
        applied: applied.filter((a) => a.ok).length,
        failed: applied.filter((a) => !a.ok).length,
        held: outcome.held?.length ?? 0,
      },
    };
    status.reconciled(summary, outcome, new Date(finished));
    this.record(target.commit, outcome, result, (finished - started) / 1000, finished);
    this.opts.onReconciled?.(summary, outcome);

    if (result === 'invalid') {
      // Retrying cannot fix a commit: wait for the source to move on. The pool stays as it is.
      this.rejectedCommit = target.commit;
      logger?.error({ commit: target.commit, problems: (outcome.invalid ?? []).map(formatDiagnostic), inForce: this.lastGood?.commit }, 'commit is invalid; the last good commit stays in force');
      return;
    }
    this.lastGood = target;
    this.scheduleWindow(outcome);
    if (result === 'success') {
      this.settledCommit = target.commit;
      this.failures = 0;
      status.retryScheduled(0, undefined);
      logger?.info({ commit: target.commit, ms: summary.durationMs, actions: summary.actions, drift: outcome.drift?.length ?? 0 }, 'reconcile finished');
      return;
    }
    this.settledCommit = undefined;
    this.failed(new Set(trigger), outcome.error ?? 'reconcile failed');
  }

  /** Schedules a retry of `reasons` after the backoff for one more consecutive failure. */
  private failed(reasons: Set<TriggerReason>, error: string | undefined): void {
    if (this.stopped) return;
    this.failures++;
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * this.backoff.factor ** (this.failures - 1));
    // Equal jitter: never less than half the step, so retries still back off, but spread out so many
    // controllers failing together (a pool master failover) do not retry in lockstep.
    const delay = Math.round(base / 2 + (this.random() * base) / 2);
    const at = new Date(this.clock.now() + delay);
    this.opts.status.retryScheduled(this.failures, at);
    if (error) this.opts.logger?.warn({ err: error, failures: this.failures, retryInMs: delay }, 'reconcile failed; retrying after backoff');
    for (const r of reasons) if (r !== 'retry') this.pending.add(r);
    this.pending.add('retry');
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, delay);
  }

  private record(commit: string, outcome: ReconcileOutcome, result: ReconcileSummary['result'], seconds: number, finishedMs: number): void {
    const m = this.opts.metrics;
    if (!m) return;
    m.reconciles.inc({ result });
    m.reconcileDuration.observe(seconds);
    if (result === 'success') m.lastSuccess.set(finishedMs / 1000);
    m.refused.set(deniedAddresses(outcome.invalid ?? []).size, { state: 'denied' });
    if (result === 'invalid') return;
    m.refused.set(new Set((outcome.plan?.refused ?? []).map((r) => r.address)).size, { state: 'refused' });
    for (const a of outcome.applied ?? []) m.actions.inc({ disruption: a.disruption, result: a.ok ? 'success' : 'failure' });
    m.held.reset();
    const heldBy = new Map<string, number>();
    for (const h of outcome.held ?? []) heldBy.set(h.disruption, (heldBy.get(h.disruption) ?? 0) + 1);
    for (const [disruption, n] of heldBy) m.held.set(n, { disruption });
    for (const d of outcome.drift ?? []) m.driftDetected.inc({ outcome: d.healed ? 'healed' : 'reported' });
    m.drifted.set((outcome.drift ?? []).filter((d) => !d.healed).length);
    m.commitInfo.reset();
    m.commitInfo.set(1, { commit });
  }

  /**
   * Actions held by a maintenance window run when it opens, not at the next resync (which may be
   * long after a short window closed): one timer for the earliest opening among the held actions.
   */
  private scheduleWindow(outcome: ReconcileOutcome): void {
    if (this.windowTimer !== undefined) this.clock.clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    if (this.stopped) return;
    // An opening already past by this clock means the plan was judged by another clock (tests, a
    // skewed `now`): waking at once would only spin; the resync looks again.
    const now = this.clock.now();
    const openings = (outcome.held ?? []).map((h) => (h.releasesAt ? Date.parse(h.releasesAt) : NaN)).filter((t) => t > now);
    if (openings.length === 0) return;
    const at = Math.min(...openings) + WINDOW_MARGIN_MS;
    const delay = Math.min(MAX_TIMER_MS, at - now);
    this.opts.logger?.info({ at: new Date(at).toISOString() }, 'held actions wait for a maintenance window: reconciling when it opens');
    this.windowTimer = this.clock.setTimeout(() => {
      this.windowTimer = undefined;
      this.request('window');
    }, delay);
  }

  private schedulePoll(): void {
    const every = this.opts.pollIntervalMs ?? 0;
    if (every <= 0 || this.stopped) return;
    this.pollTimer = this.clock.setTimeout(() => {
      this.request('poll');
      this.schedulePoll();
    }, every);
  }

  private scheduleResync(): void {
    const every = this.opts.resyncIntervalMs ?? 0;
    if (every <= 0 || this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      this.request('resync');
      this.scheduleResync();
    }, every);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
