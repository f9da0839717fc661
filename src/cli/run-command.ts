import type { RepositoryLimits } from '../source/limits.js';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { logProgress } from '../apply/progress.js';
import { ConsoleReport } from '../controller/console-report.js';
import { startController, type ControllerOptions } from '../controller/controller.js';
import { DEFAULT_LISTEN } from '../controller/http.js';
import { holderFile, persistentHolder } from '../controller/holder-identity.js';
import { ApprovalLedger } from '../policy/approval-ledger.js';
import { humanLogDestination } from '../controller/human-log.js';
import { createLogger } from '../controller/logger.js';
import { shouldColor } from '../render/index.js';
import { startSimulator, type Simulator } from '../sim/index.js';
import { XapiClient } from '../xapi/client.js';
import { parseDuration } from '../manifests/units.js';
import { runFleet } from '../fleet/run-fleet.js';
import { GitSource, isRemoteUrl } from '../source/git-source.js';
import { LocalSource } from '../source/local-source.js';
import { normaliseSubfolder } from '../source/paths.js';
import type { ManifestSource } from '../source/types.js';
import type { GitVerify } from '../config/types.js';
import { parseCommandArgs, readFlagFile, str } from './args.js';
import { CONNECTION_USAGE, connectFromArgs, connectionOptions } from './connection.js';
import { UserError } from './errors.js';
import { OUTPUTS_USAGE, historyFileFor, outputsFromArgs, outputsOptions } from './outputs-flags.js';
import type { PoolConfig } from '../config/index.js';
import { OPERATOR_CONFIG_USAGE, operatorConfigOptions, operatorSettings } from './operator-config.js';
import { REPO_ID_HELP, repoIdentity, repoIdOption } from './repo-identity.js';
import { defaultCacheRoot } from './cache-dir.js';
import { alignOptions } from './usage.js';
import { reconcileProgress } from './reconcile-progress.js';

/** Next to the controller's 9420, so the quick start's commands can be pasted as they are. */
const DEFAULT_SIM_PORT = 9421;

const USAGE = `usage: xops run [--repo URL|PATH] [--branch B] [--path DIR] [options]

Keeps the pool in the state the manifests declare: reconciles on every new commit, file change,
drift and periodic resync; serves /healthz, /readyz, /metrics, /status, /history and POST /webhook.

source:
  --repo URL|PATH              a Git remote, a local Git repository, or a plain folder (watched for
                               changes, for development); default: the current directory
  --branch B                   branch to follow (Git only; default: the remote's default branch)
  --path DIR                   sub-folder holding the manifests (default: the root)
  --interval DURATION          how often to fetch the repository (default 60s)
  --cache-dir DIR              where the Git cache lives (default: $XDG_CACHE_HOME/xops or
                               ~/.cache/xops, then a folder per repository URL)
controller:
  --listen HOST:PORT           HTTP endpoints (default ${DEFAULT_LISTEN.host}:${DEFAULT_LISTEN.port})
  --webhook-secret-file FILE   enables POST /webhook, HMAC-SHA256 verified with this secret
  --webhook-listen HOST:PORT   serve POST /webhook there only, apart from --listen (or
                               http.webhookListen in --config)
  --token-file FILE            /status, /metrics, /history and the APIs require this bearer
                               token (or http.tokenFile in --config); /healthz, /readyz stay open
  --resync DURATION            reconcile at least this often even when nothing changed (default 10m)
  --lease-ttl DURATION         how long the pool lease outlives a dead holder (default 60s); a
                               controller restarted on the same host with the same cache folder
                               takes its own lease back at once
  --apply-timeout DURATION     one reconcile starts no new action after this long (default 30m);
                               /healthz fails when a reconcile runs 10m past it
  --shutdown-timeout DURATION  on SIGTERM, wait this long for the action in flight (default 30s),
                               then release the lease and exit 1
  --log-level LEVEL            trace, debug, info (default), warn, error
  --log-format text|json       text: plans, apply summaries and log lines for people on stdout;
                               json: pino JSON lines only (default: text on a terminal or with
                               --sim, json otherwise)
${alignOptions(REPO_ID_HELP, 31)}
${OUTPUTS_USAGE}
pool:
  --sim SEED                   start the embedded XAPI simulator (demo, empty or a seed file) and
                               reconcile it; no --xapi needed (credentials root / xops)
  --sim-port N                 the simulator's port (default ${DEFAULT_SIM_PORT}, or a free one if taken)
${alignOptions(CONNECTION_USAGE, 31)}

${alignOptions(OPERATOR_CONFIG_USAGE, 31)}`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    {
      ...connectionOptions,
      ...operatorConfigOptions,
      repo: { type: 'string' },
      branch: { type: 'string' },
      path: { type: 'string' },
      interval: { type: 'string' },
      'cache-dir': { type: 'string' },
      listen: { type: 'string' },
      'webhook-secret-file': { type: 'string' },
      'webhook-listen': { type: 'string' },
      'token-file': { type: 'string' },
      resync: { type: 'string' },
      'lease-ttl': { type: 'string' },
      'apply-timeout': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      sim: { type: 'string' },
      'sim-port': { type: 'string' },
      ...repoIdOption,
      ...outputsOptions,
    },
    USAGE,
  );
  if (help) return 0;
  if (positionals.length > 0) throw new UserError(`unexpected argument '${positionals[0]}' (the repository is given with --repo; see 'xops run --help')`);

  const operator = await operatorSettings(values);
  if (operator.config.pools.length > 0) return runFleetFromArgs(values, operator);
  const source = sourceFromArgs(values, operator.config.git.verify, operator.config.repository);
  const listen = parseListen(str(values.listen));
  const pollIntervalMs = durationMs('--interval', str(values.interval) ?? '60s');
  const resyncIntervalMs = durationMs('--resync', str(values.resync) ?? '10m');
  const leaseTtlMs = durationMs('--lease-ttl', str(values['lease-ttl']) ?? '60s');
  const applyTimeoutMs = durationMs('--apply-timeout', str(values['apply-timeout']) ?? '30m');
  const shutdownTimeoutMs = durationMs('--shutdown-timeout', str(values['shutdown-timeout']) ?? '30s');
  const webhookSecret = await readSecret(str(values['webhook-secret-file']));
  const webhookListenText = str(values['webhook-listen']) ?? operator.config.http.webhookListen;
  const webhookListen = webhookListenText !== undefined ? parseListen(webhookListenText, '--webhook-listen') : undefined;
  const tokenFile = str(values['token-file']) ?? operator.config.http.tokenFile;
  const token = tokenFile !== undefined ? await readToken(tokenFile) : undefined;
  const approveToken = operator.config.approvals.tokenFile !== undefined ? await readToken(operator.config.approvals.tokenFile) : undefined;
  const outputs = await outputsFromArgs(values, source, str(values.repo) ?? '.', str(values.xapi) ?? process.env.XOPS_XAPI_URL ?? `sim:${str(values.sim) ?? ''}`);
  const sim = str(values.sim);
  if (sim !== undefined && (str(values.xapi) !== undefined || process.env.XOPS_XAPI_URL)) {
    throw new UserError('--sim starts its own pool: do not also give --xapi (or XOPS_XAPI_URL)');
  }
  const simPort = simPortOf(str(values['sim-port']));
  const logFormat = str(values['log-format']) ?? (process.stdout.isTTY || sim !== undefined ? 'text' : 'json');
  if (logFormat !== 'text' && logFormat !== 'json') throw new UserError(`--log-format must be text or json, not '${logFormat}'`);
  const print = (text: string) => void process.stdout.write(text);
  const logger = createLogger({
    level: str(values['log-level']),
    ...(logFormat === 'text' ? { destination: humanLogDestination(print) } : {}),
  });
  const report = logFormat === 'text' ? new ConsoleReport(print, { color: shouldColor(process.stdout) }) : undefined;

  const simulator = sim !== undefined ? await startEmbeddedSimulator(sim, simPort) : undefined;
  let client: XapiClient;
  try {
    client = simulator
      ? await XapiClient.connect({ url: simulator.url, user: 'root', password: 'xops', logger })
      : await connectFromArgs(values, process.env, logger);
  } catch (err) {
    await simulator?.stop();
    throw err;
  }
  if (simulator) {
    if (report) print(simulatorBanner(simulator));
    else logger.info({ url: simulator.url, user: 'root' }, 'embedded XAPI simulator started');
  }
  // On a terminal, a long reconcile shows the same live progress block as `xops apply`.
  const live = report && process.stdout.isTTY ? reconcileProgress(process.stdout) : undefined;
  const hooks: Partial<ControllerOptions> = report
    ? {
        onPlan: (p) => {
          report.plan(p);
          live?.planned(p);
        },
        onApplied: (r) => {
          live?.done();
          report.applied(r);
        },
        onOutcome: (o, i) => report.outcome(o, i),
        ...(live ? { applyListener: live.listener } : {}),
      }
    : { applyListener: logProgress(logger) };
  const controller = await startController({
    source,
    caller: client,
    root: source instanceof LocalSource ? join(str(values.repo) ?? '.', str(values.path) ?? '.') : (str(values.path) ?? '.'),
    repo: repoIdentity(values),
    listen,
    webhookSecret,
    httpGuard: { ...(token !== undefined ? { token } : {}), allowedHosts: operator.config.http.allowedHosts ?? [] },
    ...(webhookListen ? { webhookListen } : {}),
    ...(approveToken !== undefined ? { approveToken } : {}),
    outputs,
    branch: str(values.branch),
    pollIntervalMs,
    resyncIntervalMs,
    leaseTtlMs,
    applyTimeoutMs,
    config: operator.config,
    limits: operator.limits,
    ownCredentialFiles: [str(values['password-file']), str(values['webhook-secret-file']), tokenFile].filter((f): f is string => f !== undefined),
    // Kept in the cache folder, so that this controller, restarted, takes its own lease back at once.
    // Per pool, like the lease holder: which actions were held at which commit, and API approvals.
    approvalLedger: await ApprovalLedger.open(holderFile(str(values['cache-dir']) ?? defaultCacheRoot(), simulator?.url ?? str(values.xapi) ?? process.env.XOPS_XAPI_URL ?? '').replace(/lease-holder-/, 'approvals-')),
    leaseHolder: persistentHolder(holderFile(str(values['cache-dir']) ?? defaultCacheRoot(), simulator?.url ?? str(values.xapi) ?? process.env.XOPS_XAPI_URL ?? '')),
    logger,
    ...hooks,
  }).catch(async (err: unknown) => {
    await client.close();
    await simulator?.stop();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UserError(`--listen ${listen.host}:${listen.port}: address already in use`);
    throw err;
  });
  if (report) print(`xops is watching ${source.description}; status at ${controller.url}/status (Ctrl-C to stop)\n`);

  // SIGTERM/SIGINT: finish the action in flight, release the lease, log out, exit 0. A second
  // signal while shutting down exits at once.
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      signalled = true;
      logger.info({ signal }, 'shutting down: finishing the action in flight');
      // A call that never returns must not keep the process (and the pool's lease) forever.
      const force = setTimeout(() => {
        logger.warn({ waitedMs: shutdownTimeoutMs }, 'shutdown timed out: releasing the lease and exiting');
        const bounded = new Promise<void>((r) => setTimeout(r, 5_000).unref());
        void Promise.race([controller.lease.stop(), bounded]).finally(() => process.exit(1));
      }, shutdownTimeoutMs);
      force.unref();
      controller
        .stop()
        .catch((err: unknown) => logger.error({ err }, 'error while shutting down'))
        .finally(() =>
          client
            .close()
            .finally(() => (simulator ? simulator.stop() : Promise.resolve()))
            .finally(() => {
              // The last word: nothing is left holding the pool.
              if (report) print('xops stopped: pool lease released, logged out of the pool\n');
              else logger.info('stopped: pool lease released, logged out');
              resolve();
            }),
        );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // The terminal closing (SIGHUP) is a stop request too, not a reason to leave the lease behind.
    process.on('SIGHUP', onSignal);
  });
  return 0;
}

/**
 * `--config` lists pools: one replica of a fleet. Each pool reads its own `paths` of the repository,
 * so `--path`, `--xapi` and `--sim` (one pool's flags) do not apply.
 */
async function runFleetFromArgs(values: Record<string, unknown>, operator: Awaited<ReturnType<typeof operatorSettings>>): Promise<number> {
  for (const flag of ['path', 'xapi', 'sim', 'password-file']) {
    if (values[flag] !== undefined) throw new UserError(`--${flag}: the configuration lists pools (pools:), each with its own address and paths; drop --${flag}`);
  }
  const source = sourceFromArgs(values, operator.config.git.verify, operator.config.repository);
  const logger = createLogger({ level: str(values['log-level']) });
  const applyTimeoutMs = durationMs('--apply-timeout', str(values['apply-timeout']) ?? '30m');
  const listen = parseListen(str(values.listen));
  const webhookSecret = await readSecret(str(values['webhook-secret-file']));
  const webhookListenText = str(values['webhook-listen']) ?? operator.config.http.webhookListen;
  const webhookListen = webhookListenText !== undefined ? parseListen(webhookListenText, '--webhook-listen') : undefined;
  const tokenFile = str(values['token-file']) ?? operator.config.http.tokenFile;
  const token = tokenFile !== undefined ? await readToken(tokenFile) : undefined;
  // One set of outputs for every pool; each keeps its own history file and names itself in
  // notifications, and its commit status has its own context, so pools do not overwrite each other's.
  const outputs = await outputsFromArgs(values, source, str(values.repo) ?? '.', '');
  const outputsFor = (pool: PoolConfig) => ({
    ...outputs,
    historyFile: historyFileFor(source, pool.xapi),
    poolName: () => pool.name,
    ...(outputs.commitStatus ? { commitStatus: { ...outputs.commitStatus, context: `xops/${pool.name}` } } : {}),
  });
  const cacheRoot = str(values['cache-dir']) ?? defaultCacheRoot();
  const approveToken = operator.config.approvals.tokenFile !== undefined ? await readToken(operator.config.approvals.tokenFile) : undefined;
  return runFleet({
    ...(approveToken !== undefined ? { approveToken } : {}),
    ...(webhookSecret ? { webhook: { secret: webhookSecret, branch: str(values.branch) } } : {}),
    // The same file a one-pool controller of this address keeps, so the record survives a switch of mode.
    ...(webhookListen ? { webhookListen } : {}),
    approvalLedgerFor: (pool) => ApprovalLedger.open(holderFile(cacheRoot, pool.xapi).replace(/lease-holder-/, 'approvals-')),
    guard: { ...(token !== undefined ? { token } : {}), allowedHosts: operator.config.http.allowedHosts ?? [] },
    outputsFor,
    source,
    config: operator.config,
    limits: operator.limits,
    // One identity per replica for all its pools (others count replicas by it), kept across restarts.
    holder: persistentHolder(holderFile(str(values['cache-dir']) ?? defaultCacheRoot(), `fleet:${operator.config.file ?? ''}`)),
    listen,
    leaseTtlMs: durationMs('--lease-ttl', str(values['lease-ttl']) ?? '60s'),
    shutdownTimeoutMs: durationMs('--shutdown-timeout', str(values['shutdown-timeout']) ?? '30s'),
    stuckAfterMs: applyTimeoutMs + 10 * 60_000,
    controller: {
      repo: repoIdentity(values),
      branch: str(values.branch),
      pollIntervalMs: durationMs('--interval', str(values.interval) ?? '60s'),
      resyncIntervalMs: durationMs('--resync', str(values.resync) ?? '10m'),
      applyTimeoutMs,
      applyListener: logProgress(logger),
      ownCredentialFiles: [...operator.config.pools.flatMap((p) => (p.passwordFile ? [p.passwordFile] : [])), str(values['webhook-secret-file']), tokenFile].filter((f): f is string => f !== undefined),
    },
    logger,
    onListening: (url, hook) => process.stderr.write(`xops fleet replica serving ${operator.config.pools.length} pools; status at ${url}/status${hook ? `; POST /webhook at ${hook}/webhook` : ''}\n`),
  }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UserError(`--listen ${listen.host}:${listen.port}: address already in use`);
    throw err;
  });
}

/** Starts the embedded simulator on `port`, or on a free port when that one is taken. */
async function startEmbeddedSimulator(seed: string, port: number): Promise<Simulator> {
  try {
    return await startSimulator({ port, seed });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && port !== 0) return startSimulator({ port: 0, seed });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`--sim: no such seed file: ${seed} (or use demo, empty)`);
    if (err instanceof SyntaxError) throw new UserError(`--sim: ${seed} is not a JSON seed: ${err.message}`);
    throw err;
  }
}

/** Where the simulated pool is and how to change it behind xops' back. */
function simulatorBanner(sim: Simulator): string {
  return (
    `XAPI simulator running at ${sim.url} (user root, password xops; JSON-RPC at ${sim.url}/jsonrpc)\n` +
    `  hosts: ${sim.hostUrls.filter(Boolean).join(', ')}\n`
  );
}

function simPortOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SIM_PORT;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new UserError(`--sim-port must be a port number (0 for any free one), not '${value}'`);
  return Number(value);
}

/**
 * `--repo`: a remote URL or a local Git repository is a Git source; any other folder is watched as
 * a plain folder (development mode). `--path` is the manifests sub-folder in either case.
 */
function sourceFromArgs(values: Record<string, unknown>, verify: GitVerify | undefined, limits: Partial<RepositoryLimits>): ManifestSource {
  const repo = str(values.repo) ?? '.';
  const branch = str(values.branch);
  const path = str(values.path);
  if (path !== undefined && normaliseSubfolder(path) === undefined) throw new UserError(`--path must be a folder inside the repository, got '${path}'`);
  if (isRemoteUrl(repo) || isGitRepository(repo)) {
    return new GitSource({ url: repo, branch, path, cacheDir: str(values['cache-dir']), cacheRoot: defaultCacheRoot(), limits, ...(verify ? { verify } : {}) });
  }
  if (verify) throw new UserError(`git.verify (--config) checks commit signatures: --repo must be a Git repository, not the plain folder ${repo}`);
  if (!existsSync(repo) || !statSync(repo).isDirectory()) throw new UserError(`--repo: no such folder or Git URL: ${repo}`);
  if (branch) throw new UserError(`--branch needs a Git repository; ${repo} is a plain folder`);
  return new LocalSource({ dir: path ? join(repo, path) : repo, limits });
}

/** A working tree (has `.git`) or a bare repository (has `HEAD` and `objects/`). */
function isGitRepository(dir: string): boolean {
  return existsSync(join(dir, '.git')) || (existsSync(join(dir, 'HEAD')) && existsSync(join(dir, 'objects')));
}

function parseListen(value: string | undefined, flag = '--listen'): { host: string; port: number } {
  if (value === undefined) return DEFAULT_LISTEN;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UserError(`${flag} must be HOST:PORT (e.g. 127.0.0.1:9420), got '${value}'`);
  return { host: m[1] || m[2] || DEFAULT_LISTEN.host, port };
}

function durationMs(flag: string, value: string): number {
  const parsed = parseDuration(/^\d+$/.test(value) ? `${value}s` : value);
  if (!parsed.ok) throw new UserError(`${flag}: ${parsed.message}`);
  return Number(parsed.value) * 1000;
}

/** The bearer token file: one line, at least 16 characters, so a guessable token is refused up front. */
async function readToken(file: string): Promise<string> {
  const token = (await readFlagFile('--token-file', file)).trim();
  if (token.length < 16 || /\s/.test(token)) throw new UserError(`--token-file: ${file} must hold one token of at least 16 characters, no spaces`);
  return token;
}

async function readSecret(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  const secret = await readFlagFile('--webhook-secret-file', file);
  if (!secret) throw new UserError(`--webhook-secret-file: ${file} is empty`);
  return secret;
}
