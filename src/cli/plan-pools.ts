import type { PoolConfig } from '../config/index.js';
import { fleetPlanTable, poolFilesIn } from '../fleet/per-pool.js';
import type { Plan } from '../model/plan.js';
import { hasErrors, type Diagnostic } from '../model/diagnostics.js';
import { sortDiagnostics, type ManifestFile } from '../manifests/loader.js';
import { printDiagnostics } from './diagnostics-output.js';
import type { OperatorSettings } from './operator-config.js';
import { exitCode, printPlan, type PlanOutput } from './plan-output.js';
import { observePool, planPoolWithCredentials, poolFailure } from './pool-plan.js';

/** What `xops plan --config FILE [--pool NAME...]` needs besides the pools. */
export interface PoolPlanOptions {
  repoDir: string;
  out: PlanOutput;
  maxBytes?: number;
  repo: string;
  operator: OperatorSettings;
  detailed: boolean;
  /**
   * `--server URL`: a fleet replica plans each pool (`/plan/<pool>`) against its controller's cache,
   * with the replica's configuration; nothing connects to the pools from here.
   */
  server?: { url: string; token: string; objects: boolean };
}

/**
 * Plans each pool against its own live state from the union of its paths, and prints one section
 * per pool (Markdown: led by a table of pools × changes × disruption). A pool that cannot be reached
 * or whose manifests have errors is reported and planned no further; the others still are. Exit
 * code: the worst of the pools' (1 for any error).
 */
export async function planPools(pools: PoolConfig[], o: PoolPlanOptions): Promise<number> {
  const plans: { pool: string; plan: Plan }[] = [];
  let code = 0;
  let failed = false;
  const filesOf = poolFilesIn(o.repoDir, o.operator.config.repository);
  for (const pool of pools) {
    try {
      const read = await filesOf(pool);
      const planned = o.server ? await planPoolOnServer(pool, read, o.repoDir, o.server) : await planPoolWithCredentials(pool, read.files, read.diagnostics, await observePool(pool), { root: o.repoDir, commit: 'local', repo: o.repo, operator: o.operator, now: new Date() });
      if (!planned.ok) {
        process.stderr.write(`xops: pool ${pool.name}: the manifests under ${pool.paths.join(', ')} have errors; nothing was planned for it\n`);
        printDiagnostics(planned.diagnostics);
        failed = true;
        continue;
      }
      const { plan } = planned;
      plans.push({ pool: pool.name, plan });
      const poolCode = exitCode(plan, o.detailed);
      if (poolCode === 1) failed = true;
      else code = Math.max(code, poolCode);
    } catch (err) {
      process.stderr.write(poolFailure(pool, err));
      failed = true;
    }
  }
  if (o.out === 'json') {
    process.stdout.write(JSON.stringify(plans, null, 2) + '\n');
    return failed ? 1 : code;
  }
  if (o.out === 'markdown') process.stdout.write(`${fleetPlanTable(plans)}\n`);
  for (const { pool, plan } of plans) {
    process.stdout.write(o.out === 'markdown' ? `### Pool \`${pool}\`\n\n` : `== pool ${pool} ==\n`);
    printPlan(plan, o.out, { ...(o.maxBytes !== undefined ? { maxBytes: Math.floor(o.maxBytes / Math.max(1, plans.length)) } : {}), fullPlanHint: `xops plan ${o.repoDir} --config ${o.operator.config.file ?? 'FILE'} --pool ${pool} --out text` });
  }
  return failed ? 1 : code;
}

/** One pool planned by a fleet replica, as planPoolWithCredentials answers (the read's diagnostics first). */
async function planPoolOnServer(pool: PoolConfig, read: { files: ManifestFile[]; diagnostics: Diagnostic[] }, root: string, server: NonNullable<PoolPlanOptions['server']>): Promise<{ ok: true; plan: Plan } | { ok: false; diagnostics: Diagnostic[] }> {
  if (hasErrors(read.diagnostics)) return { ok: false, diagnostics: read.diagnostics };
  const { planOnServer, sendable } = await import('./remote-plan.js');
  const { head } = await planOnServer(server.url, server.token, root, { files: sendable(read.files) }, undefined, server.objects, pool.name);
  if ('invalid' in head) return { ok: false, diagnostics: sortDiagnostics([...read.diagnostics, ...head.invalid]) };
  return { ok: true, plan: read.diagnostics.length ? { ...head.plan, diagnostics: sortDiagnostics([...read.diagnostics, ...head.plan.diagnostics]) } : head.plan };
}
