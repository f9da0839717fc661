import type { Logger } from 'pino';
import { LocalSource } from '../source/local-source.js';
import type { ManifestSource } from '../source/types.js';
import type { XapiCaller } from '../xapi/caller.js';
import { startHttpServer, type ControllerHttpServer } from './http.js';
import { LeaseKeeper, PoolLease } from './lease.js';
import { ReconcileLoop, type BackoffOptions } from './loop.js';
import { ControllerMetrics } from './metrics.js';
import { createReconciler } from './reconcile.js';
import { StatusStore } from './status.js';
import type { ReconcileFn } from './types.js';
import { instrumentCaller } from './xapi-metrics.js';

/** Everything one controller (one pool) needs; the CLI builds it from flags. */
export interface ControllerOptions {
  source: ManifestSource;
  /** The pool connection; wrapped here so every call is counted in /metrics. */
  caller: XapiCaller;
  /** The manifests folder as the operator named it, for plans. */
  root: string;
  /** Default: `createReconciler` from `reconcile.ts`. Receives the instrumented caller. */
  reconcile?: (caller: XapiCaller) => ReconcileFn;
  listen?: { host: string; port: number };
  /** Enables `POST /webhook`, verified with this secret. */
  webhookSecret?: string;
  /** The branch followed, so pushes to other branches do not trigger a fetch. */
  branch?: string;
  pollIntervalMs?: number;
  resyncIntervalMs?: number;
  leaseTtlMs?: number;
  leaseHolder?: string;
  backoff?: Partial<BackoffOptions>;
  logger: Logger;
}

/** A running controller. `stop()` is the graceful shutdown SIGTERM triggers. */
export interface RunningController {
  url: string;
  status: StatusStore;
  metrics: ControllerMetrics;
  loop: ReconcileLoop;
  lease: LeaseKeeper;
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
  const caller = instrumentCaller(options.caller, metrics);
  const status = new StatusStore(source.description);
  const reconcile = (options.reconcile ?? ((c) => createReconciler({ caller: c, root: options.root })))(caller);

  let loop: ReconcileLoop | undefined;
  // Triggers before loop.start() would only duplicate its first reconcile.
  let started = false;
  const http: ControllerHttpServer = await startHttpServer({
    ...(options.listen ?? {}),
    status,
    metrics,
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
  });
  logger.info({ url: http.url, source: source.description }, 'controller listening');

  const lease = new PoolLease({ caller, holder: options.leaseHolder, ttlMs: options.leaseTtlMs });
  const keeper = new LeaseKeeper(lease, {
    onUpdate: (state, err) => {
      status.xapiReachable(!err, err instanceof Error ? err.message : err ? String(err) : undefined);
      metrics.leaseHeld.set(lease.held() ? 1 : 0);
      if (state) status.lease({ holder: lease.holder, held: state.held, heldBy: state.held ? undefined : state.heldBy, expiresAt: state.expiresAt });
      if (err) logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'pool lease: XAPI call failed');
      else if (state && !state.held) logger.info({ reason: state.reason, heldBy: state.heldBy }, 'pool lease not held: standing by');
    },
    onAcquired: () => {
      logger.info({ holder: lease.holder }, 'pool lease acquired');
      if (started) loop?.request('startup');
    },
  });

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
  });
  await keeper.start();
  if (source instanceof LocalSource) await source.watch(() => loop?.request('file-change'));
  loop.start();
  started = true;

  let stopping: Promise<void> | undefined;
  return {
    url: http.url,
    status,
    metrics,
    loop,
    lease: keeper,
    stop: () =>
      (stopping ??= (async () => {
        status.standby('shutting down');
        await loop.stop();
        await keeper.stop();
        await source.close();
        await http.close();
        logger.info({}, 'controller stopped');
      })()),
  };
}
