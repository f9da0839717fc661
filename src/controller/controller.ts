import type { Logger } from 'pino';
import { defaultConfig, type ControllerConfig } from '../config/index.js';
import type { OperatorLimits } from '../policy/settings.js';
import { ManifestCache } from '../manifests/parse-cache.js';
import { LocalSource } from '../source/local-source.js';
import { GitSource } from '../source/git-source.js';
import type { ManifestSource } from '../source/types.js';
import type { ApplyListener, ApplyResult } from '../apply/executor.js';
import type { Plan } from '../model/plan.js';
import type { XapiCaller } from '../xapi/caller.js';
import { XapiClient } from '../xapi/client.js';
import { startHttpServer, type ControllerHttpServer } from './http.js';
import { createWebRoutes } from './web/routes.js';
import { planSummary, poolPageView, type PlanSummary, type PoolPageView } from './web/view.js';
import type { HttpGuard } from './http-guard.js';
import type { Diagnostic } from '../model/diagnostics.js';
import type { RawDocument } from '../model/desired.js';
import type { ApprovalLedger } from '../policy/approval-ledger.js';
import { LeaseKeeper, PoolLease, type LeaseShare } from './lease.js';
import { ReconcileLoop, type BackoffOptions } from './loop.js';
import { ControllerMetrics } from './metrics.js';
import { OperatorOutputs, type OperatorOutputsOptions } from './outputs.js';
import { bearerCheck, planApi, readTokenFile, type PlanApiHandler } from './plan-api.js';
import { PoolMetrics } from './pool-metrics.js';
import { WatchedPool, snapshotView, type PoolView } from './pool-watch.js';
import { createReconciler } from './reconcile.js';
import { PlanMemo } from '../plan/memo.js';
import { FileStore } from './file-store.js';
import { StatusStore } from './status.js';
import type { ReconcileFn, ReconcileInput, ReconcileOutcome } from './types.js';
import { recordXapiCalls } from './xapi-metrics.js';

/** Everything one controller (one pool) needs; the CLI builds it from flags. */
export interface ControllerOptions {
  source: ManifestSource;
  /** The pool connection. Every XAPI request is counted in /metrics when it (or `client`) is an XapiClient. */
  caller: XapiCaller;
  /** The manifests folder as the operator named it, for plans. */
  root: string;
  /**
   * The client whose event stream keeps the pool's state current between reconciles and triggers a
   * reconcile when a managed object changes behind xops' back. Default: `caller` when it is an
   * XapiClient; without one, each reconcile reads a full snapshot and only resyncs catch drift.
   */
  client?: XapiClient;
  /** Default: `createReconciler` from `reconcile.ts`. Receives the caller. */
  reconcile?: (caller: XapiCaller) => ReconcileFn;
  /** Repository identity (`xops.repo`); default: none (marks of any repository count). */
  repo?: string;
  /** The clock automation policies (maintenance windows) are judged by; default: system time. */
  now?: () => Date;
  /** Quiet time after a managed object changes before the drift reconcile; default 100 ms. */
  eventDebounceMs?: number;
  /** Delay before apply retries a failed action; default 250 ms. */
  applyRetryDelayMs?: number;
  /** Told about every plan a reconcile made (after policies), before it is applied. */
  onPlan?: (plan: Plan) => void;
  /** Told what apply did in a reconcile. */
  onApplied?: (result: ApplyResult) => void;
  /** Apply progress, per action (e.g. one log line per action started and finished). */
  applyListener?: ApplyListener;
  /** Told every reconcile's outcome (after the plan and apply hooks), e.g. to print invalid commits. */
  onOutcome?: (outcome: ReconcileOutcome, input: ReconcileInput) => void;
  /** Cap on the series of one per-object pool metric (hosts, SRs, PIFs); default 500. */
  maxPoolSeries?: number;
  /** History file, webhook notifications and commit statuses (see outputs.ts); all off when absent. */
  outputs?: Omit<OperatorOutputsOptions, 'metrics' | 'logger'>;
  listen?: { host: string; port: number };
  /** False: no HTTP server of its own (a fleet serves every pool's status from one); default true. */
  serveHttp?: boolean;
  /** A fleet replica's fair share of the pools (src/fleet/); default: always try to hold the lease. */
  leaseShare?: LeaseShare;
  /** Enables `POST /webhook`, verified with this secret. */
  webhookSecret?: string;
  /** The bearer token and extra Host names the HTTP endpoints check (see http-guard.ts). */
  httpGuard?: HttpGuard;
  /** Approvals given through the API and first-held commits (see policy/approval-ledger.ts). */
  approvalLedger?: ApprovalLedger;
  /** With approvalLedger: the token `POST /approve` (xops approve) requires; unset, the API is off. */
  approveToken?: string;
  /** Where POST /webhook listens instead of on `listen`. */
  webhookListen?: { host: string; port: number };
  /** The branch followed, so pushes to other branches do not trigger a fetch. */
  branch?: string;
  pollIntervalMs?: number;
  resyncIntervalMs?: number;
  leaseTtlMs?: number;
  /** Wait after taking over an expired lease before reading it back (default 2 s; see lease.ts). */
  leaseTakeoverSettleMs?: number;
  leaseHolder?: string;
  backoff?: Partial<BackoffOptions>;
  /**
   * How long one reconcile's apply may start new actions (default 30 min); actions still waiting
   * then run in the next reconcile. Each XAPI call and task has its own deadline on top.
   */
  applyTimeoutMs?: number;
  /**
   * A reconcile running longer than this makes `/healthz` fail (default: the apply timeout plus
   * 10 min), so that a supervisor restarts a controller that is stuck.
   */
  stuckAfterMs?: number;
  /** The operator's configuration; default: the built-in one (every limit off). */
  config?: ControllerConfig;
  /** The limits in force (the configuration's, raised by --allow-* flags); default: the configuration's. */
  limits?: OperatorLimits;
  /** Files holding xops' own credentials, which no secretRef may name. */
  ownCredentialFiles?: string[];
  /** See ReconcilerDeps.documentChecks. */
  documentChecks?: (documents: RawDocument[]) => Diagnostic[];
  logger: Logger;
}

/** Default of ControllerOptions.applyTimeoutMs. */
export const DEFAULT_APPLY_TIMEOUT_MS = 30 * 60_000;

/** A running controller. `stop()` is the graceful shutdown SIGTERM triggers. */
export interface RunningController {
  url: string;
  /** `/plan` for this pool (plan-api.ts), when the configuration names http.tokenFile. */
  plan?: PlanApiHandler;
  /** What the status page shows of this pool now (`name`: as a fleet names it; default the pool's name_label). */
  pageView(name?: string): PoolPageView;
  status: StatusStore;
  metrics: ControllerMetrics;
  loop: ReconcileLoop;
  lease: LeaseKeeper;
  outputs: OperatorOutputs;
  stop(): Promise<void>;
}

/**
 * Starts a controller: HTTP endpoints first (so /healthz answers during startup), then the pool
 * lease, then the loop and its triggers (source poll or folder watch, webhook, periodic resync).
 * The loop only acts while the lease is held.
 */
export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { logger, source } = options;
  const metrics = new ControllerMetrics();
  const caller = options.caller;
  const status = new StatusStore(source.description);
  let loop: ReconcileLoop | undefined;
  const outputs = await OperatorOutputs.start({ poolName: () => poolNameOf(pool), ...options.outputs, metrics, logger });
  const client = options.client ?? (options.caller instanceof XapiClient ? options.caller : undefined);
  const stopRecording = client ? recordXapiCalls(client, metrics) : () => undefined;
  const pool: PoolView = client
    ? new WatchedPool(client, {
        repo: options.repo,
        debounceMs: options.eventDebounceMs,
        onManagedChange: (addresses) => {
          logger.info({ resources: addresses }, 'managed objects changed in the pool: reconciling');
          loop?.request('xapi-event');
        },
        onResync: (info) => logger.warn({ reason: info.reason, changes: info.changes }, 'pool state re-read after a gap in the event stream'),
      })
    : snapshotView(caller);
  // One cache of parsed manifests for the reconciles and the plan API: a plan of the commit in force reuses its files.
  const manifestCache = new ManifestCache();
  // And of each VM's planning: a plan of 10,000 VMs with one changed plans that one.
  const planMemo = new PlanMemo();
  // The commit in force's files by digest: a `plan --server` client names those it shares with it.
  const fileStore = new FileStore();
  const reconcileFn = (
    options.reconcile ??
    ((c) =>
      createReconciler({
        caller: c,
        root: options.root,
        pool,
        ...(options.approvalLedger ? { approvalLedger: options.approvalLedger } : {}),
        repo: options.repo,
        localDir: source instanceof LocalSource ? source.dir : undefined,
        config: options.config,
        limits: options.limits,
        ownCredentialFiles: options.ownCredentialFiles,
        ...(options.documentChecks ? { documentChecks: options.documentChecks } : {}),
        now: options.now,
        retryDelayMs: options.applyRetryDelayMs,
        applyTimeoutMs: options.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS,
        log: logger,
        onPlan: options.onPlan,
        onApplied: options.onApplied,
        listener: options.applyListener,
        manifestCache,
        planMemo,
        fileStore,
      }))
  )(caller);
  let lastPlan: PlanSummary | undefined;
  const reconcile: ReconcileFn = async (input) => {
    outputs.reconcileStarting(input.commit);
    const cpu = process.cpuUsage();
    const outcome = await reconcileFn(input);
    const used = process.cpuUsage(cpu);
    metrics.reconcileCpu.set((used.user + used.system) / 1e6);
    if (outcome.plan) lastPlan = planSummary(outcome.plan);
    options.onOutcome?.(outcome, input);
    return outcome;
  };

  const stuckAfterMs = options.stuckAfterMs ?? (options.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS) + 10 * 60_000;
  // Triggers before loop.start() would only duplicate its first reconcile.
  let started = false;
  // The plan API is served only behind the operator's token.
  const tokenFile = options.config?.http.tokenFile;
  const planToken = tokenFile ? await readTokenFile(tokenFile) : undefined;
  // Built even without a server of its own: a fleet replica serves each pool's on its address.
  const planHandler: PlanApiHandler | undefined = planToken
    ? planApi({
        observe: () => pool.observe(),
        authorized: bearerCheck(planToken),
        root: options.root,
        repo: options.repo,
        config: options.config ?? defaultConfig(),
        limits: options.limits ?? (options.config ?? defaultConfig()).limits,
        ownCredentialFiles: options.ownCredentialFiles,
        now: options.now,
        manifestCache,
        planMemo,
        fileStore,
        ...(source instanceof GitSource ? { gitFolder: source.subfolder } : {}),
        onPlanned: (set) => metrics.planRequests.inc({ set }),
        onCpu: (seconds) => metrics.planCpu.inc({}, seconds),
        ...(options.documentChecks ? { documentChecks: options.documentChecks } : {}),
      })
    : undefined;
  const http: ControllerHttpServer | undefined = options.serveHttp === false ? undefined : await startHttpServer({
    ...(options.listen ?? {}),
    status,
    metrics,
    history: () => outputs.history.document(),
    // One pool per controller today; a fleet lists one entry per pool.
    web: createWebRoutes({ ...(options.httpGuard?.token !== undefined ? { token: options.httpGuard.token } : {}), view: () => ({ pools: [poolPageView(status.snapshot(), outputs.history.document().entries, poolNameOf(pool), lastPlan)] }) }),
    ...(options.httpGuard ? { guard: options.httpGuard } : {}),
    ...(options.webhookListen ? { webhookListen: options.webhookListen } : {}),
    ...(options.approvalLedger && options.approveToken
      ? {
          approve: {
            token: options.approveToken,
            onApprove: async (hash: string) => {
              options.approvalLedger!.approve(hash);
              await options.approvalLedger!.save();
              logger.info({ hash }, 'approval recorded through the API');
              loop?.request('resync');
            },
          },
        }
      : {}),
    ...(planHandler ? { plan: planHandler } : {}),
    webhook: options.webhookSecret
      ? {
          secret: options.webhookSecret,
          branch: options.branch,
          onPush: (delivery) => {
            logger.info({ delivery }, 'webhook: fetching');
            loop?.request('webhook');
          },
        }
      : undefined,
    onError: (err) => logger.error({ err }, 'HTTP handler failed'),
    unhealthy: () => {
      const ms = loop?.runningForMs();
      return ms !== undefined && ms > stuckAfterMs
        ? `a reconcile has been running for ${Math.round(ms / 1000)} s (limit ${Math.round(stuckAfterMs / 1000)} s)`
        : undefined;
    },
  });
  if (http) logger.info({ url: http.url, source: source.description }, 'controller listening');

  // A fleet replica treats a missing key as free only once it stays missing (see LeaseOptions.confirmFree).
  const lease = new PoolLease({ caller, holder: options.leaseHolder, ttlMs: options.leaseTtlMs, takeoverSettleMs: options.leaseTakeoverSettleMs, confirmFree: options.leaseShare !== undefined });
  const keeper = new LeaseKeeper(lease, {
    onUpdate: (state, err) => {
      status.xapiReachable(!err, err instanceof Error ? err.message : err ? String(err) : undefined);
      metrics.leaseHeld.set(lease.held() ? 1 : 0);
      outputs.leaseUpdated(state);
      if (state) status.lease({ holder: lease.holder, held: state.held, heldBy: state.held ? undefined : state.heldBy, expiresAt: state.expiresAt });
      if (err) logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'pool lease: XAPI call failed');
      else if (state && !state.held) logger.info({ reason: state.reason, heldBy: state.heldBy }, 'pool lease not held: standing by');
    },
    onAcquired: () => {
      logger.info({ holder: lease.holder }, 'pool lease acquired');
      if (started) loop?.request('startup');
    },
    share: options.leaseShare,
  });

  // Only the lease holder exports the pool: a standby's view may be stale, and one pool must not show twice.
  const poolMetrics = new PoolMetrics(metrics.registry, { maxSeriesPerMetric: options.maxPoolSeries });
  metrics.registry.beforeRender(() => poolMetrics.update(pool instanceof WatchedPool && lease.held() ? pool.latestState() : undefined));

  loop = new ReconcileLoop({
    source,
    reconcile,
    status,
    metrics,
    logger,
    pollIntervalMs: source instanceof LocalSource ? 0 : options.pollIntervalMs,
    resyncIntervalMs: options.resyncIntervalMs,
    backoff: options.backoff,
    standbyReason: () => keeper.standbyReason(),
    onReconciled: (summary, outcome) => outputs.reconciled(summary, outcome),
  });
  await keeper.start();
  if (source instanceof LocalSource) await source.watch(() => loop?.request('file-change'));
  loop.start();
  started = true;

  let stopping: Promise<void> | undefined;
  return {
    url: http?.url ?? '',
    ...(planHandler ? { plan: planHandler } : {}),
    pageView: (name) => poolPageView(status.snapshot(), outputs.history.document().entries, name ?? poolNameOf(pool), lastPlan),
    status,
    metrics,
    loop,
    lease: keeper,
    outputs,
    stop: () =>
      (stopping ??= (async () => {
        status.standby('shutting down');
        await loop.stop();
        await pool.stop();
        await keeper.stop();
        await source.close();
        await outputs.close();
        await http?.close();
        stopRecording();
        logger.info({}, 'controller stopped');
      })()),
  };
}

/** The pool's name_label (its uuid when unnamed), once the event-fed view has read it. */
function poolNameOf(pool: PoolView): string | undefined {
  const record = pool instanceof WatchedPool ? pool.latestState()?.records.pool.values().next().value : undefined;
  return record ? record.name_label || record.uuid : undefined;
}
