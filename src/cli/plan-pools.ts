import type { PoolConfig } from '../config/index.js';
import { defaultConnect } from '../fleet/fleet.js';
import { fleetPlanTable, poolManifestFiles } from '../fleet/per-pool.js';
import { liveInventoryFrom } from '../manifests/index.js';
import { loadManifestFiles, sortDiagnostics } from '../manifests/loader.js';
import { hasErrors } from '../model/diagnostics.js';
import type { Plan } from '../model/plan.js';
import { takeSnapshot } from '../observe/snapshot.js';
import { printDiagnostics } from './diagnostics-output.js';
import type { OperatorSettings } from './operator-config.js';
import { exitCode, printPlan, type PlanOutput } from './plan-output.js';
import { planDesired } from './plan-desired.js';

/** What `xops plan --config FILE [--pool NAME...]` needs besides the pools. */
export interface PoolPlanOptions {
  repoDir: string;
  out: PlanOutput;
  maxBytes?: number;
  repo: string;
  operator: OperatorSettings;
  detailed: boolean;
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
  for (const pool of pools) {
    try {
      const { client } = await defaultConnect(pool);
      let observed;
      try {
        observed = await takeSnapshot(client);
      } finally {
        await client.close();
      }
      const read = await poolManifestFiles(o.repoDir, pool);
      const loaded = loadManifestFiles(read.files, o.repoDir, { live: liveInventoryFrom(observed), commit: 'local' });
      const diagnostics = sortDiagnostics([...read.diagnostics, ...loaded.diagnostics]);
      if (hasErrors(diagnostics)) {
        process.stderr.write(`xops: pool ${pool.name}: the manifests under ${pool.paths.join(', ')} have errors; nothing was planned for it\n`);
        printDiagnostics(diagnostics);
        code = 1;
        continue;
      }
      const operator = { ...o.operator, limits: { ...o.operator.limits, ...pool.limits } };
      const plan = planDesired(loaded.desired, diagnostics, observed, { now: new Date(), repo: o.repo, operator });
      plans.push({ pool: pool.name, plan });
      code = Math.max(code, exitCode(plan, o.detailed));
    } catch (err) {
      process.stderr.write(`xops: pool ${pool.name}: ${err instanceof Error ? err.message : String(err)}\n`);
      code = 1;
    }
  }
  if (o.out === 'json') {
    process.stdout.write(JSON.stringify(plans, null, 2) + '\n');
    return code;
  }
  if (o.out === 'markdown') process.stdout.write(`${fleetPlanTable(plans)}\n`);
  for (const { pool, plan } of plans) {
    process.stdout.write(o.out === 'markdown' ? `### Pool \`${pool}\`\n\n` : `== pool ${pool} ==\n`);
    printPlan(plan, o.out, { ...(o.maxBytes !== undefined ? { maxBytes: Math.floor(o.maxBytes / Math.max(1, plans.length)) } : {}), fullPlanHint: `xops plan ${o.repoDir} --pool ${pool} --out text` });
  }
  return code;
}
