import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ControllerConfig, PoolConfig } from '../config/index.js';
import { startController, type ControllerOptions, type RunningController } from '../controller/controller.js';
import type { LeaseShare } from '../controller/lease.js';
import { ApprovalLedger } from '../policy/approval-ledger.js';
import type { OperatorLimits } from '../policy/settings.js';
import { LocalSource } from '../source/local-source.js';
import type { ManifestSource } from '../source/types.js';
import type { XapiCaller } from '../xapi/caller.js';
import { XapiClient } from '../xapi/client.js';
import { fairShare, poolsAboveShare } from './fair-share.js';
import { poolNameDiagnostics } from './pool-name.js';
import { SharedSource } from './pool-source.js';
import { ReplicaRoster } from './replicas.js';

/** A pool connection: the client whose event stream feeds the controller, and the caller it writes with. */
export interface PoolConnection {
  client: XapiClient;
  /** Default: `client`. */
  caller?: XapiCaller;
}

/** What a fleet replica needs; the CLI builds it from `--config` and the flags. */
export interface FleetOptions {
  /** The pools to reconcile (the configuration's `pools`), at least one. */
  pools: PoolConfig[];
  /** The whole repository (no sub-folder): each pool reads the union of its `paths` from it. */
  source: ManifestSource;
  config: ControllerConfig;
  /** The limits in force for every pool; a pool's own `limits` override them field by field. */
  limits: OperatorLimits;
  /** This replica's lease holder identity, the same for all its pools (others count replicas by it). */
  holder: string;
  leaseTtlMs?: number;
  /** See ControllerOptions.leaseTakeoverSettleMs. */
  leaseTakeoverSettleMs?: number;
  /** Default: XapiClient.connect with the pool's URL, user, password file or variable and CA. */
  connect?: (pool: PoolConfig) => Promise<PoolConnection>;
  /** Waits between failed connection attempts to one pool: from `initialMs` doubling to `maxMs`. */
  connectRetry?: { initialMs: number; maxMs: number };
  /**
   * Each pool's approval ledger (which actions were held at which commit, API approvals): without one
   * an approval annotation would count in the very commit that brings the change it approves.
   * Default: one in memory per pool (the rule holds; the record is lost on restart).
   */
  approvalLedgerFor?: (pool: PoolConfig) => Promise<ApprovalLedger>;
  /** Each pool's history file, notifications and commit statuses (default: none, history in memory). */
  outputsFor?: (pool: PoolConfig) => ControllerOptions['outputs'];
  /** Passed to every pool's controller (repository identity, intervals, backoff, hooks...). */
  controller?: Partial<Omit<ControllerOptions, 'source' | 'caller' | 'client' | 'config' | 'limits' | 'leaseHolder' | 'leaseTtlMs' | 'serveHttp' | 'leaseShare' | 'logger' | 'documentChecks' | 'outputs' | 'approvalLedger'>>;
  logger: Logger;
}

/** One pool of a running fleet as this replica sees it. */
export interface FleetPool {
  readonly config: PoolConfig;
  /** Set once connected; until then `connectError` says why not. */
  controller?: RunningController;
  connectError?: string;
  /** The pool's approval ledger, set with the controller. */
  approvalLedger?: ApprovalLedger;
  held(): boolean;
}

/** A running fleet replica. `stop()` stops every pool's controller and releases its leases. */
export interface RunningFleet {
  readonly holder: string;
  readonly pools: FleetPool[];
  readonly roster: ReplicaRoster;
  /** How many pools this replica may hold now. */
  share(): number;
  /** One heartbeat round over the connected pools now (also runs every third of the TTL). */
  beat(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts one controller per pool, each with its own connection, observer, loop, lease, backoff and
 * status, connecting in the background: a pool that is down is retried on its own and never delays
 * the others. Replicas with the same configuration split the pools through the pools' leases, each
 * holding at most its fair share of them (see replicas.ts).
 */
export async function startFleet(options: FleetOptions): Promise<RunningFleet> {
  if (options.pools.length === 0) throw new Error('a fleet needs at least one pool');
  const ttlMs = options.leaseTtlMs ?? 60_000;
  const roster = new ReplicaRoster({ self: options.holder, ttlMs });
  const shared = new SharedSource(options.source);
  const retry = options.connectRetry ?? { initialMs: 1_000, maxMs: 60_000 };
  const connect = options.connect ?? defaultConnect;
  const clients: PoolConnection[] = [];
  let stopped = false;

  const pools: (FleetPool & { connection?: PoolConnection })[] = options.pools.map((config) => ({
    config,
    held() {
      return this.controller?.lease.lease.held() ?? false;
    },
  }));
  const share = () => fairShare(pools.length, roster.live().length);
  const heldNames = () => pools.filter((p) => p.held()).map((p) => p.config.name);
  const leaseShare = (name: string): LeaseShare => ({
    mayAcquire: () => heldNames().length < share(),
    // Only between reconciles: a release during one would leave its apply running without the lease.
    mustRelease: () => {
      const controller = pools.find((p) => p.config.name === name)?.controller;
      return controller !== undefined && controller.loop.runningForMs() === undefined && poolsAboveShare(heldNames(), share()).includes(name);
    },
  });

  const beat = async () => {
    await Promise.all(
      pools.map(async (p) => {
        if (!p.connection) return;
        await roster.beat(p.config.name, p.connection.caller ?? p.connection.client).catch((err: unknown) => {
          options.logger.debug({ pool: p.config.name, err: String(err) }, 'replica heartbeat failed');
        });
      }),
    );
  };
  let beatTimer: NodeJS.Timeout | undefined;
  const scheduleBeat = () => {
    beatTimer = setTimeout(() => void beat().finally(() => !stopped && scheduleBeat()), Math.max(200, Math.floor(ttlMs / 3)));
    beatTimer.unref();
  };

  const startPool = async (pool: (typeof pools)[number]) => {
    const logger = options.logger.child({ pool: pool.config.name });
    for (let wait = retry.initialMs; !stopped; wait = Math.min(wait * 2, retry.maxMs)) {
      try {
        pool.connection = await connect(pool.config);
        clients.push(pool.connection);
        delete pool.connectError;
        break;
      } catch (err) {
        pool.connectError = err instanceof Error ? err.message : String(err);
        logger.warn({ err: pool.connectError, retryInMs: wait }, 'cannot connect to the pool; retrying');
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
    if (stopped || !pool.connection) return;
    // Be counted before taking leases, so a replica already holding every pool makes room at once.
    await roster.beat(pool.config.name, pool.connection.caller ?? pool.connection.client).catch(() => undefined);
    const approvalLedger = await (options.approvalLedgerFor ?? (() => ApprovalLedger.open(undefined)))(pool.config);
    pool.approvalLedger = approvalLedger;
    pool.controller = await startController({
      ...options.controller,
      source: shared.view(pool.config.name, pool.config.paths),
      caller: pool.connection.caller ?? pool.connection.client,
      client: pool.connection.client,
      root: '.',
      config: options.config,
      limits: { ...options.limits, ...pool.config.limits },
      leaseHolder: options.holder,
      leaseTtlMs: ttlMs,
      leaseTakeoverSettleMs: options.leaseTakeoverSettleMs,
      serveHttp: false,
      leaseShare: leaseShare(pool.config.name),
      ...(options.outputsFor ? { outputs: options.outputsFor(pool.config) } : {}),
      approvalLedger,
      // A Pool manifest in this pool's paths must carry its name: a copy in the wrong folder would rename it.
      documentChecks: (documents) => poolNameDiagnostics(documents, pool.config.name),
      logger,
    });
    if (stopped) await pool.controller.stop();
  };
  const starting = pools.map((p) =>
    startPool(p).catch((err: unknown) => {
      p.connectError = err instanceof Error ? err.message : String(err);
      options.logger.error({ pool: p.config.name, err: p.connectError }, 'pool controller failed to start');
    }),
  );
  scheduleBeat();
  // A plain folder (development): every pool fetches when a file changes, as a single controller does.
  if (options.source instanceof LocalSource) await options.source.watch(() => pools.forEach((p) => p.controller?.loop.request('file-change')));

  let stopping: Promise<void> | undefined;
  return {
    holder: options.holder,
    pools,
    roster,
    share,
    beat,
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        clearTimeout(beatTimer);
        await Promise.all(starting);
        await Promise.all(pools.map((p) => p.controller?.stop()));
        await Promise.all(clients.map((c) => roster.leave(c.caller ?? c.client).catch(() => undefined)));
        await Promise.all(clients.map((c) => c.client.close().catch(() => undefined)));
        // Closing the last pool's view closed it already, unless a pool never connected (idempotent).
        await options.source.close().catch(() => undefined);
      })()),
  };
}

/** Connects with the pool's own credentials: `passwordFile` (trailing newline dropped) or `passwordEnv`. */
export async function defaultConnect(pool: PoolConfig): Promise<PoolConnection> {
  let password: string | undefined;
  if (pool.passwordFile) password = (await readFile(pool.passwordFile, 'utf8')).replace(/\r?\n$/, '');
  else if (pool.passwordEnv) password = process.env[pool.passwordEnv];
  if (!password) throw new Error(`pool ${pool.name}: no password (${pool.passwordFile ? `${pool.passwordFile} is empty` : `${pool.passwordEnv} is not set`})`);
  const client = await XapiClient.connect({ url: pool.xapi, user: pool.user, password, ...(pool.ca ? { ca: pool.ca } : {}) });
  return { client };
}
