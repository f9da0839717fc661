import type { SimpleGit } from 'simple-git';
import type { PoolConfig } from '../config/index.js';
import { fleetPlanTable } from '../fleet/per-pool.js';
import { selectFiles } from '../fleet/pool-source.js';
import type { ManifestFile } from '../manifests/loader.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { manifestFilesAt, markIntroduced, remotePlanOrInvalid } from './diff-command.js';
import type { RemoteResult } from './remote-plan.js';
import type { OperatorSettings } from './operator-config.js';
import { hasProblems, printPlan, printProblems, type PlanOutput } from './plan-output.js';
import { observePool, planPoolWithCredentials, poolFailure, type PoolPlanContext } from './pool-plan.js';

/** What `xops diff --config FILE [--pool NAME...]` needs besides the pools. */
export interface PoolDiffOptions {
  git: SimpleGit;
  /** The repository's top folder and the folder (relative to it) the pools' paths start from. */
  top: string;
  prefix: string;
  dir: string;
  base: { ref: string; commit: string };
  head: { ref: string; commit: string };
  out: PlanOutput;
  maxBytes?: number;
  detailed: boolean;
  repo: string;
  operator: OperatorSettings;
  /** `--server URL`: a fleet replica plans both commits of each pool (`/plan/<pool>`) against its cache. */
  server?: { url: string; token: string; objects: boolean };
}

/**
 * Plans each pool at the head and at the base commit against its own live pool, and marks what the
 * change introduces, as `xops diff` does for one pool. Prints one section per pool; in Markdown the
 * comment leads with a table of pools × introduced changes × disruption. A pool that cannot be
 * reached is reported and left out; the others still are. Exit: 1 when any pool could not be
 * planned or its head has errors or refusals, else with `detailed` 2 when any change is introduced.
 */
export async function diffPools(pools: PoolConfig[], o: PoolDiffOptions): Promise<number> {
  const [headFiles, baseFiles] = await Promise.all([manifestFilesAt(o.git, o.top, o.head.commit, o.prefix, o.operator.config.repository), manifestFilesAt(o.git, o.top, o.base.commit, o.prefix, o.operator.config.repository)]);
  const plans: { pool: string; plan: Plan }[] = [];
  let failed = false;
  for (const pool of pools) {
    try {
      const [head, base] = o.server ? await bothOnServer(pool, headFiles, baseFiles, o, o.server) : await bothCold(pool, headFiles, baseFiles, o);
      const plan = markIntroduced(head, base);
      if (hasProblems(plan)) failed = true;
      plans.push({ pool: pool.name, plan });
    } catch (err) {
      process.stderr.write(poolFailure(pool, err));
      failed = true;
    }
  }
  if (o.out === 'json') process.stdout.write(JSON.stringify(plans, null, 2) + '\n');
  else {
    const title = `xops diff \`${o.base.ref}\` (${o.base.commit.slice(0, 12)}) → \`${o.head.ref}\` (${o.head.commit.slice(0, 12)})`;
    if (o.out === 'markdown') process.stdout.write(`## ${title}\n\n${fleetPlanTable(plans, (a) => a.introduced === true)}\n`);
    for (const { pool, plan } of plans) {
      if (o.out === 'text') process.stdout.write(`== pool ${pool} ==\n`);
      printPlan(plan, o.out, {
        ...(o.maxBytes !== undefined ? { maxBytes: Math.floor(o.maxBytes / Math.max(1, plans.length)) } : {}),
        title: `Pool \`${pool}\`: ${title}`,
        fullPlanHint: `xops diff --base ${o.base.ref} --head ${o.head.ref} --pool ${pool} --out text`,
      });
    }
  }
  if (o.out === 'json') for (const { plan } of plans) printProblems(plan);
  if (failed) return 1;
  return o.detailed && plans.some(({ plan }) => plan.actions.some((a) => a.introduced)) ? 2 : 0;
}

/** The head's and the base's plans of one pool against its live state, read here. */
async function bothCold(pool: PoolConfig, headFiles: ManifestFile[], baseFiles: ManifestFile[], o: PoolDiffOptions): Promise<[Plan, Plan]> {
  const observed = await observePool(pool);
  const ctx = (commit: string): PoolPlanContext => ({ root: o.dir, commit, repo: o.repo, operator: o.operator, now: new Date() });
  return [await planOrInvalid(pool, headFiles, observed, ctx(o.head.commit)), await planOrInvalid(pool, baseFiles, observed, ctx(o.base.commit))];
}

/** The same, planned by the fleet replica's controller of the pool, against one snapshot of its cache. */
async function bothOnServer(pool: PoolConfig, headFiles: ManifestFile[], baseFiles: ManifestFile[], o: PoolDiffOptions, server: NonNullable<PoolDiffOptions['server']>): Promise<[Plan, Plan]> {
  const { planOnServer, sendable } = await import('./remote-plan.js');
  const prefixes = pool.paths.map((p) => (p === '' ? '' : `${p}/`));
  const set = (files: ManifestFile[], commit: string) => ({ files: sendable(selectFiles(files, prefixes)), commit });
  const answer = await planOnServer(server.url, server.token, o.dir, set(headFiles, o.head.commit), set(baseFiles, o.base.commit), server.objects, pool.name);
  const now = new Date().toISOString();
  const planOf = (result: RemoteResult | undefined, commit: string): Plan => {
    if (!result) throw new Error(`--server ${server.url}: the replica did not plan commit ${commit.slice(0, 12)}`);
    return remotePlanOrInvalid(result, now, { path: o.dir, commit });
  };
  return [planOf(answer.head, o.head.commit), planOf(answer.base, o.base.commit)];
}

/** One commit's plan for a pool; manifests with errors give an empty plan carrying them, as a single-pool diff does. */
async function planOrInvalid(pool: PoolConfig, files: ManifestFile[], observed: ObservedState, ctx: PoolPlanContext): Promise<Plan> {
  const mine = selectFiles(files, pool.paths.map((p) => (p === '' ? '' : `${p}/`)));
  // A rotated SR password is planned at both commits, as `xops plan` plans it.
  const planned = await planPoolWithCredentials(pool, mine, [], observed, ctx);
  if (planned.ok) return planned.plan;
  return { formatVersion: 1, createdAt: ctx.now.toISOString(), source: { path: ctx.root, commit: ctx.commit }, observed: { token: observed.token, objects: {} }, actions: [], refused: [], diagnostics: planned.diagnostics };
}
