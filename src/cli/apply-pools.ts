import { pino, type Logger } from 'pino';
import { applyPlan, type ApplyResult } from '../apply/executor.js';
import { formatSummary, logProgress, ttyProgress, type Progress } from '../apply/progress.js';
import type { PoolConfig } from '../config/index.js';
import { operatorSecretSource } from '../config/credentials.js';
import { holderFile, persistentHolder } from '../controller/holder-identity.js';
import { humanLogDestination } from '../controller/human-log.js';
import { defaultConnect } from '../fleet/fleet.js';
import { poolFilesIn, type PoolFiles } from '../fleet/per-pool.js';
import type { DesiredState } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import { takeSnapshot } from '../observe/snapshot.js';
import { renderText, shouldColor } from '../render/index.js';
import type { XapiClient } from '../xapi/client.js';
import { confirm, destructivePolicy, interruptedLine, interruptOnSignals } from './apply-command.js';
import { holdApplyLease, type ApplyLease } from './apply-lease.js';
import { defaultCacheRoot } from './cache-dir.js';
import { printDiagnostics } from './diagnostics-output.js';
import { errnoCodesInWords } from './errno.js';
import type { OperatorSettings } from './operator-config.js';
import { printProblems } from './plan-output.js';
import { planPoolWithCredentials, poolFailure } from './pool-plan.js';

/** What `xops apply --config FILE [--pool NAME...] [REPO]` needs besides the pools. */
export interface PoolApplyOptions {
  repoDir: string;
  yes: boolean;
  concurrency: number;
  forceLease: boolean;
  logFormat: 'text' | 'json';
  allowDestructive: boolean;
  repo: string;
  operator: OperatorSettings;
}

/** One pool ready to apply: its connection, its lease (held until the end) and its plan. */
interface HeldPool {
  pool: PoolConfig;
  client: XapiClient;
  lease: ApplyLease;
  plan: Plan;
  desired: DesiredState;
}

/**
 * Applies each selected pool from the union of its paths, as `xops apply` does for one: every
 * pool's lease is taken before it is planned and held until the end, so no controller or other apply
 * writes to it in between. All plans are shown (one section per pool), one confirmation covers them,
 * then the pools are applied one after the other, each summarised in its own section. A pool that
 * cannot be reached, is locked, or whose manifests have errors is reported and left alone; the
 * others are still applied. Exit: 0 when every pool applied cleanly, 130 when interrupted, else 1.
 */
export async function applyPools(pools: PoolConfig[], o: PoolApplyOptions): Promise<number> {
  const held: HeldPool[] = [];
  let failed = false;
  const filesOf = poolFilesIn(o.repoDir, o.operator.config.repository);
  try {
    for (const pool of pools) {
      const ready = await preparePool(pool, o, filesOf).catch((err: unknown) => {
        process.stderr.write(poolFailure(pool, err));
        return undefined;
      });
      if (ready) held.push(ready);
      else failed = true;
    }
    for (const h of held) {
      process.stdout.write(`== pool ${h.pool.name} ==\n`);
      process.stdout.write(renderText(h.plan, { color: shouldColor(process.stdout), diagnostics: false }));
      printProblems(h.plan);
    }
    const refused = held.some((h) => h.plan.refused.length > 0);
    const work = held.filter((h) => h.plan.actions.length > 0);
    const total = work.reduce((n, h) => n + h.plan.actions.length, 0);
    if (total === 0) return failed || refused ? 1 : 0;
    if (!o.yes && !(await confirm(total, `${work.length} pool${work.length === 1 ? '' : 's'} (${work.map((h) => h.pool.name).join(', ')})`))) {
      process.stderr.write('xops: apply cancelled; nothing was changed\n');
      return 1;
    }

    const log = pino(
      { base: undefined, redact: ['*.password', '*.device_config'] },
      o.logFormat === 'json' ? pino.destination(2) : humanLogDestination((text) => void process.stderr.write(text)),
    );
    const interrupt = interruptOnSignals();
    try {
      for (const h of work) {
        if (interrupt.signal.aborted) {
          process.stderr.write(`xops: pool ${h.pool.name}: not applied (interrupted)\n`);
          failed = true;
          continue;
        }
        const result = await applyPool(h, o, log.child({ pool: h.pool.name }), interrupt.signal);
        process.stdout.write(`== pool ${h.pool.name} ==\n`);
        process.stdout.write(formatSummary(result).split('\n').map(errnoCodesInWords).join('\n'));
        if (interrupt.signal.aborted) process.stderr.write(`xops: pool ${h.pool.name}: ${interruptedLine(result).replace(/^xops: /, '')}\n`);
        if (!result.ok) failed = true;
      }
    } finally {
      interrupt.release();
    }
    if (interrupt.signal.aborted) return 130;
    if (refused) process.stderr.write('xops: some changes were refused and not applied (see above)\n');
    return failed || refused ? 1 : 0;
  } finally {
    await Promise.all(held.map(async (h) => {
      await h.lease.release().catch(() => undefined);
      await h.client.close().catch(() => undefined);
    }));
  }
}

/** Connects, takes the pool's lease, plans. Undefined (errors printed) when the manifests have errors. */
async function preparePool(pool: PoolConfig, o: PoolApplyOptions, filesOf: PoolFiles): Promise<HeldPool | undefined> {
  const { client } = await defaultConnect(pool);
  let lease: ApplyLease | undefined;
  try {
    // The same holder file as a single-pool apply of this address: a re-run after a crash takes its lease back.
    lease = await holdApplyLease(client, {
      holder: `xops-apply:${persistentHolder(holderFile(defaultCacheRoot(), `apply ${pool.xapi}`))}`,
      force: o.forceLease,
      warn: (l) => process.stderr.write(`xops: pool ${pool.name}: ${l}\n`),
    });
    const observed = await takeSnapshot(client);
    const read = await filesOf(pool);
    const planned = await planPoolWithCredentials(pool, read.files, read.diagnostics, observed, { root: o.repoDir, commit: 'local', repo: o.repo, operator: o.operator, now: new Date() });
    if (!planned.ok) {
      printDiagnostics(planned.diagnostics);
      process.stderr.write(`xops: pool ${pool.name}: the manifests under ${pool.paths.join(', ')} have errors; nothing was applied to it\n`);
      await lease.release().catch(() => undefined);
      await client.close().catch(() => undefined);
      return undefined;
    }
    return { pool, client, lease, plan: planned.plan, desired: planned.desired };
  } catch (err) {
    await lease?.release().catch(() => undefined);
    await client.close().catch(() => undefined);
    throw err;
  }
}

async function applyPool(h: HeldPool, o: PoolApplyOptions, log: Logger, interrupted: AbortSignal): Promise<ApplyResult> {
  const live = o.logFormat === 'text' && process.stderr.isTTY;
  const progress: Progress = live ? ttyProgress(process.stderr, h.plan.actions) : logProgress(log);
  const limits = { ...o.operator.limits, ...h.pool.limits };
  return applyPlan(h.plan, h.client, {
    repo: o.repo,
    concurrency: o.concurrency,
    destructiveAllowed: destructivePolicy(h.desired, o.allowDestructive && limits.destructive),
    secrets: operatorSecretSource(o.operator.config, [h.pool.passwordFile]),
    log: live ? undefined : log,
    listener: progress,
    signal: AbortSignal.any([h.lease.signal, interrupted]),
  }).finally(() => progress.stop());
}
