import type { Logger } from 'pino';
import type { ControllerConfig } from '../config/index.js';
import type { ControllerOptions } from '../controller/controller.js';
import type { OperatorLimits } from '../policy/settings.js';
import type { ManifestSource } from '../source/types.js';
import type { HttpGuard } from '../controller/http-guard.js';
import { startFleet, type FleetOptions } from './fleet.js';
import { startFleetHttp } from './http.js';

/** What `xops run --config FILE` with `pools:` needs from the command line. */
export interface FleetRunOptions {
  source: ManifestSource;
  config: ControllerConfig;
  limits: OperatorLimits;
  holder: string;
  listen: { host: string; port: number };
  /** The bearer token and Host names every request is checked against (`http.tokenFile`, `--token-file`). */
  guard?: HttpGuard;
  /** Each pool's history file, notifications and commit statuses. */
  outputsFor?: FleetOptions['outputsFor'];
  /** Each pool's approval ledger, kept in the cache folder. */
  approvalLedgerFor?: FleetOptions['approvalLedgerFor'];
  /** Enables `POST /approve` behind this token (approvals.tokenFile). */
  approveToken?: string;
  /** Where `POST /webhook` is served instead of on `listen`. */
  webhookListen?: { host: string; port: number };
  /** Enables `POST /webhook` for all pools. */
  webhook?: { secret: string; branch?: string };
  leaseTtlMs: number;
  shutdownTimeoutMs: number;
  stuckAfterMs: number;
  controller: FleetControllerSettings;
  logger: Logger;
  /** Told the HTTP address (and the separate webhook one) once serving. */
  onListening?: (url: string, webhookUrl?: string) => void;
}

/** The per-pool controller settings the CLI passes on (intervals, repository identity, hooks). */
export type FleetControllerSettings = Partial<Omit<ControllerOptions, 'source' | 'caller' | 'client' | 'config' | 'limits' | 'leaseHolder' | 'leaseTtlMs' | 'serveHttp' | 'leaseShare' | 'logger'>>;

/**
 * Runs a fleet replica until SIGTERM/SIGINT/SIGHUP: every pool of the configuration, one HTTP
 * server for all. On a signal every pool finishes its action in flight and releases its lease;
 * past `shutdownTimeoutMs` the process exits 1. Resolves with the exit code.
 */
export async function runFleet(options: FleetRunOptions): Promise<number> {
  const { logger } = options;
  const fleet = await startFleet({
    pools: options.config.pools,
    source: options.source,
    config: options.config,
    limits: options.limits,
    holder: options.holder,
    leaseTtlMs: options.leaseTtlMs,
    controller: options.controller,
    ...(options.outputsFor ? { outputsFor: options.outputsFor } : {}),
    ...(options.approvalLedgerFor ? { approvalLedgerFor: options.approvalLedgerFor } : {}),
    logger,
  });
  const http = await startFleetHttp(fleet, { ...options.listen, stuckAfterMs: options.stuckAfterMs, ...(options.guard ? { guard: options.guard } : {}), ...(options.webhookListen ? { webhookListen: options.webhookListen } : {}), ...(options.approveToken ? { approveToken: options.approveToken } : {}), ...(options.webhook ? { webhook: options.webhook } : {}) }).catch(async (err: unknown) => {
    await fleet.stop();
    throw err;
  });
  if (http.webhookUrl) logger.info({ url: http.webhookUrl }, 'POST /webhook served on its own address');
  logger.info({ url: http.url, pools: options.config.pools.map((p) => p.name), holder: options.holder }, 'fleet replica listening');
  options.onListening?.(http.url, http.webhookUrl);
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) process.exit(1);
      signalled = true;
      logger.info({ signal }, 'shutting down: finishing the actions in flight, releasing every pool');
      const force = setTimeout(() => {
        logger.warn({ waitedMs: options.shutdownTimeoutMs }, 'shutdown timed out');
        resolve(1);
      }, options.shutdownTimeoutMs);
      force.unref();
      void fleet
        .stop()
        .catch((err: unknown) => logger.error({ err }, 'error while shutting down'))
        .finally(() => http.close())
        .finally(() => {
          clearTimeout(force);
          logger.info('stopped: every pool lease released, logged out');
          resolve(0);
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onSignal);
  });
}
