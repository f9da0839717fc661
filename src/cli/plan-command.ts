import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasErrors } from '../model/diagnostics.js';
import type { Plan } from '../model/plan.js';
import { GITHUB_COMMENT_BUDGET } from '../render/index.js';
import { parseCommandArgs, str } from './args.js';
import { OPERATOR_CONFIG_USAGE, operatorConfigOptions } from './operator-config-flags.js';
import { CONNECTION_USAGE, connectionOptions } from './connection-flags.js';
import { fsErrorInWords } from './errno.js';
import { printDiagnostics } from './diagnostics-output.js';
import { UserError } from './errors.js';
import { alignOptions } from './usage.js';
import { REPO_ID_HELP, repoIdOption, repoIdentity } from './repo-identity.js';
import { SERVER_USAGE, serverOptions } from './remote-plan.js';
import { operatorSettings, type OperatorSettings } from './operator-config.js';
import { POOL_SELECTION_USAGE, poolSelectionOptions, selectPools } from '../fleet/per-pool.js';
import type { PoolConfig } from '../config/index.js';

/** The configuration's pools narrowed by `--pool`; a bad name is a UserError. */
export function poolsOf(operator: OperatorSettings, names: unknown): PoolConfig[] {
  try {
    return selectPools(operator.config, names);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

// The cold path's modules (loader, planner, XAPI client) load only when used: `--server` needs none.
const USAGE = alignOptions(`usage: xops plan [DIR] [--out text|json|markdown] [--save FILE] [--detailed-exitcode] [connection options]

Shows what apply would change in the pool to match the manifests under DIR (default .), field by
field, and what each change costs the running workload (none, reboot, downtime, destructive).
The plan goes to stdout; problems (errors, warnings, conflicts) go to stderr.

  --out FORMAT          text (default; colour on a terminal unless NO_COLOR is set, or with
                        FORCE_COLOR), json (the Plan itself) or markdown (a pull-request comment)
  --max-bytes N         markdown only: keep the comment within N bytes (default ${GITHUB_COMMENT_BUDGET},
                        under GitHub's 65,536-character limit); the summary and disruptive actions
                        stay whole, the rest is left out with a line saying so
  --save FILE           also write the plan as JSON, for 'xops apply --plan FILE'
  --detailed-exitcode   exit 0 when there is nothing to do, 2 when there are changes, 1 on an
                        error or a refused change; when every change is held by a policy, still 2,
                        and stderr says so (without it: 1 on an error or refusal, else 0)
${REPO_ID_HELP}
${POOL_SELECTION_USAGE}

${CONNECTION_USAGE}

${SERVER_USAGE}

${OPERATOR_CONFIG_USAGE}`, 24);

export { OUTPUTS, exitCode, hasProblems, maxBytesOf, outputFormat, printPlan, printProblems, type PlanOutput } from './plan-output.js';
import { exitCode, maxBytesOf, outputFormat, printPlan } from './plan-output.js';

/** `xops plan [DIR]`: the plan against the live pool. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    {
      out: { type: 'string' },
      save: { type: 'string' },
      'max-bytes': { type: 'string' },
      'detailed-exitcode': { type: 'boolean' },
      ...repoIdOption,
      ...connectionOptions,
      ...serverOptions,
      ...operatorConfigOptions,
      ...poolSelectionOptions,
    },
    USAGE,
  );
  if (help) return 0;
  if (positionals.length > 1) throw new UserError(`plan takes one folder, got ${positionals.length} (see 'xops plan --help')`);
  const out = outputFormat(values.out, 'text');
  const maxBytes = maxBytesOf(values['max-bytes']);
  if (maxBytes !== undefined && out !== 'markdown') throw new UserError('--max-bytes applies to --out markdown only');
  const dir = positionals[0] ?? '.';
  // A configuration listing pools: DIR is the repository, each pool planned from its own paths.
  const operator = await operatorSettings(values);
  const pools = poolsOf(operator, values.pool);
  if (pools.length) {
    const server = str(values.server) ? { url: str(values.server)!, token: await fleetServerToken(values, operator.config.http.tokenFile), objects: out === 'json' } : undefined;
    return (await import('./plan-pools.js')).planPools(pools, { repoDir: dir, out, maxBytes, repo: repoIdentity(values), operator, detailed: values['detailed-exitcode'] === true, ...(server ? { server } : {}) });
  }

  const plan = str(values.server) ? await planRemotely(values, dir, out) : await planLocally(values, dir, out === 'json' || typeof values.save === 'string');
  if (!plan) {
    process.stderr.write(`xops: the manifests under ${dir} have errors; nothing was planned\n`);
    return 1;
  }
  if (typeof values.save === 'string') {
    try {
      const { savedPlanText } = await import('../plan/saved-plan.js');
      await writeFile(values.save, savedPlanText(plan));
    } catch (err) {
      throw new UserError(`--save: cannot write ${values.save}: ${fsErrorInWords(err)}`);
    }
  }
  printPlan(plan, out, { maxBytes, fullPlanHint: `xops plan ${dir} --out text` });
  return exitCode(plan, values['detailed-exitcode'] === true);
}

/** The plan against the live pool, or undefined (diagnostics printed) when the manifests have errors. */
async function planLocally(values: Record<string, unknown>, dir: string, whole: boolean): Promise<Plan | undefined> {
  // The manifests are read, parsed and checked while the pool is fetched (parse-ahead.ts); only
  // what needs the pool (references to its objects) is left for the load below.
  const [{ startParseAhead, loadPrepared }, { operatorSettings }] = await Promise.all([import('../manifests/parse-ahead.js'), import('./operator-config.js')]);
  // What one commit may hold is the operator's to say (repository: in the configuration).
  const operator = await operatorSettings(values);
  const limits = operator.config.repository;
  const ahead = startParseAhead(dir, { limits });
  try {
    const [{ observePool }, { liveInventoryFrom }, { noManifestsWarning }, { planDesired, cliCredentialChanges }] = await Promise.all([
      import('./connection.js'),
      import('../manifests/index.js'),
      import('./no-manifests.js'),
      import('./plan-desired.js'),
    ]);
    const observed = await observePool(values);
    const { desired, diagnostics } = await loadPrepared(ahead, dir, { live: liveInventoryFrom(observed), limits });
    if (hasErrors(diagnostics)) {
      // Planning a partial set of manifests could delete what the broken ones declare: stop here.
      printDiagnostics(diagnostics);
      return undefined;
    }
    const repo = repoIdentity(values);
    const changedCredentials = await cliCredentialChanges(desired, observed, operator, str(values['password-file']), repo);
    // Text and Markdown are only read: what a saved plan is checked against (observed.objects) is left out.
    return await planDesired(desired, [...noManifestsWarning(dir, desired, diagnostics), ...diagnostics], observed, { now: new Date(), repo, operator, changedCredentials, objects: whole });
  } finally {
    await ahead.stop();
  }
}

/** The token for `--server` with a fleet configuration; the flags the replica decides are refused, as for one pool. */
async function fleetServerToken(values: Record<string, unknown>, configTokenFile: string | undefined): Promise<string> {
  const { refuseServerOverrides, serverToken } = await import('./remote-plan.js');
  refuseServerOverrides(values, "the replica's pools");
  return serverToken(values, configTokenFile);
}

/** `--server URL`: the controller plans the folder's files with its own configuration and pool cache. */
async function planRemotely(values: Record<string, unknown>, dir: string, out: string): Promise<Plan | undefined> {
  const [{ folderByDigest }, { planOnServer, serverToken, basesOnServer, planOverlayOnServer, refuseServerOverrides }, { defaultCacheRoot }, { walkManifestFolder }, { gitOverlay, probeWorkTree }, { repositoryLimits }] = await Promise.all([
    import('./folder-digests.js'),
    import('./remote-plan.js'),
    import('./cache-dir.js'),
    import('../manifests/folder.js'),
    import('./git-overlay.js'),
    import('../source/limits.js'),
  ]);
  refuseServerOverrides(values, "the controller's pool");
  const tokenFile = str(values['token-file']) ? undefined : (await (await import('./operator-config.js')).operatorSettings(values)).config.http.tokenFile;
  const token = await serverToken(values, tokenFile);
  const server = str(values.server)!;
  const limits = repositoryLimits({});
  // In a Git work tree holding one of the controller's commits, only what differs from it goes:
  // git is asked about the work tree while the folder is walked.
  const walking = walkManifestFolder(dir);
  // Awaited below; a refusal of the controller (thrown by the probe) must not leave it unhandled.
  walking.catch(() => {});
  const base = await probeWorkTree(dir, basesOnServer(server, token), limits);
  // git reads the commit's tree and diff while the walk goes on; the overlay waits for the walk itself.
  const overlaid = 'commit' in base ? gitOverlay(walking.then((w) => (w.ok && !hasErrors(w.diagnostics) ? w : undefined)), base, limits) : undefined;
  // A walk that throws is reported below; the overlay waiting on it must not fail unhandled meanwhile.
  overlaid?.catch(() => {});
  const walked = await walking;
  if (!walked.ok || hasErrors(walked.diagnostics)) {
    await overlaid;
    printDiagnostics(walked.diagnostics);
    return undefined;
  }
  // Only a JSON plan (printed or saved) needs what it was made against; text and Markdown are for reading.
  const whole = out === 'json' || typeof values.save === 'string';
  const overlay = overlaid ? await overlaid : base;
  let head = 'overlay' in overlay ? (await planOverlayOnServer(server, token, dir, overlay.overlay, whole))?.head : undefined;
  if (!head) {
    // Else what is unchanged since the last run is named by the digest the index kept, without reading it.
    const read = await folderByDigest(dir, join(defaultCacheRoot(), 'plan-index'), {}, walked);
    if (hasErrors(read.diagnostics)) {
      printDiagnostics(read.diagnostics);
      return undefined;
    }
    head = (await planOnServer(server, token, dir, { files: read.files }, undefined, whole)).head;
  }
  if ('invalid' in head) {
    printDiagnostics(head.invalid);
    return undefined;
  }
  return walked.diagnostics.length > 0 ? { ...head.plan, diagnostics: [...walked.diagnostics, ...head.plan.diagnostics] } : head.plan;
}
