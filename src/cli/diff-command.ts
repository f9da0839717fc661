import type { RepositoryLimits } from '../source/limits.js';
import { relative, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { Action, Plan } from '../model/plan.js';
import type { ObservedState } from '../model/observed.js';
import { hasErrors } from '../model/diagnostics.js';
import type { ManifestFile } from '../manifests/loader.js';
import { readManifestTree } from '../source/git-tree.js';
import { SourceError } from '../source/types.js';
import { stableStringify } from '../plan/values.js';
import { parseCommandArgs } from './args.js';
import { CONNECTION_USAGE, connectionOptions } from './connection-flags.js';
import { UserError } from './errors.js';
import { alignOptions } from './usage.js';
import { hasProblems, maxBytesOf, outputFormat, poolsOf, printPlan } from './plan-command.js';
import { POOL_SELECTION_USAGE, poolSelectionOptions } from '../fleet/per-pool.js';
import { OPERATOR_CONFIG_USAGE, operatorConfigOptions, operatorSettings, type OperatorSettings } from './operator-config.js';
import { REPO_ID_HELP, repoIdOption, repoIdentity } from './repo-identity.js';
import { SERVER_USAGE, refuseServerOverrides, serverOptions, type RemoteResult } from './remote-plan.js';
import { str } from './args.js';

const USAGE = alignOptions(`usage: xops diff --base REF --head REF [DIR] [--out markdown|text|json] [connection options]

Plans the manifests under DIR (default .) at commit --head against the live pool, plans them at
--base the same way, and marks the head's actions that the change between the two introduces: the
comment a reviewer wants on a pull request. Reads both commits from Git without touching the
working tree.

  --base REF            the pull request's base (e.g. origin/main)
  --head REF            the pull request's head (e.g. HEAD)
  --out FORMAT          markdown (default), text or json
  --max-bytes N         markdown only: keep the comment within N bytes (default: fits a GitHub
                        comment); the summary and disruptive actions stay whole
  --detailed-exitcode   exit 2 when the change introduces actions, 0 when it introduces none
${REPO_ID_HELP}
${POOL_SELECTION_USAGE}
                        (DIR is then the repository; Markdown leads with a table of pools ×
                        introduced changes × disruption)

${CONNECTION_USAGE}

${SERVER_USAGE}

${OPERATOR_CONFIG_USAGE}`, 24);

/**
 * The manifest files of folder `prefix` at commit `ref`, read from Git objects exactly as the
 * controller's Git source reads them (nothing checked out; in-folder symlinks followed). The loader's
 * size limits apply afterwards, as for any source.
 */
export async function manifestFilesAt(git: SimpleGit, gitDir: string, ref: string, prefix: string, limits?: Partial<RepositoryLimits>): Promise<ManifestFile[]> {
  try {
    return await readManifestTree(git, gitDir, ref, prefix, limits);
  } catch (err) {
    if (err instanceof SourceError) throw new UserError(err.message);
    throw err;
  }
}

/** Same action, same changes: what base already plans is not something the change introduces. */
function fingerprint(a: Action): string {
  return stableStringify({ id: a.id, changes: a.changes.map((c) => ({ path: c.path, to: c.to, disruption: c.disruption })) });
}

/** Marks each head action `introduced` unless the base plan has the same action with the same changes. */
export function markIntroduced(head: Plan, base: Plan): Plan {
  const before = new Set(base.actions.map(fingerprint));
  return { ...head, actions: head.actions.map((a) => ({ ...a, introduced: !before.has(fingerprint(a)) })) };
}

async function resolveCommit(git: SimpleGit, ref: string, flag: string): Promise<string> {
  // simple-git resolves (with empty output) when git fails silently, as --quiet makes it.
  const sha = await git.revparse(['--verify', '--quiet', `${ref}^{commit}`]).catch(() => '');
  if (!/^[0-9a-f]{40,64}$/.test(sha.trim())) throw new UserError(`${flag} ${ref}: no such commit in this repository`);
  return sha.trim();
}

async function planAt(git: SimpleGit, top: string, commit: string, prefix: string, dir: string, observed: ObservedState, repo: string | undefined, now: Date, operator: OperatorSettings, passwordFile: string | undefined): Promise<Plan> {
  const files = await manifestFilesAt(git, top, commit, prefix, operator.config.repository);
  // The loader and planner load only here: `--server` plans on the controller and needs neither.
  const [{ liveInventoryFrom, loadManifestFilesYielding }, { cliCredentialChanges, planDesired }] = await Promise.all([import('../manifests/index.js'), import('./plan-desired.js')]);
  const { desired, diagnostics } = await loadManifestFilesYielding(files, dir, { commit, live: liveInventoryFrom(observed), limits: operator.config.repository });
  if (hasErrors(diagnostics)) return { formatVersion: 1, createdAt: now.toISOString(), source: desired.source, observed: { token: observed.token, objects: {} }, actions: [], refused: [], diagnostics };
  // A rotated SR password is planned as `xops plan` plans it (read under the operator's rules).
  const changedCredentials = await cliCredentialChanges(desired, observed, operator, passwordFile, repo);
  return await planDesired(desired, diagnostics, observed, { now, repo, operator, changedCredentials });
}

/** A controller's answer as a plan: manifests with errors become an empty plan carrying them, as planAt does. */
export function remotePlanOrInvalid(result: RemoteResult, now: string, source: Plan['source']): Plan {
  if ('plan' in result) return result.plan;
  // As a cold diff's plan of invalid manifests: named by the folder and commit, nothing planned.
  return { formatVersion: 1, createdAt: now, source, observed: { token: '', objects: {} }, actions: [], refused: [], diagnostics: result.invalid };
}

/** `xops diff --base REF --head REF [DIR]`: what a pull request changes, planned against the live pool. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    {
      base: { type: 'string' },
      head: { type: 'string' },
      out: { type: 'string' },
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
  if (typeof values.base !== 'string' || typeof values.head !== 'string') throw new UserError(`diff needs --base REF and --head REF (see 'xops diff --help')`);
  if (positionals.length > 1) throw new UserError(`diff takes one folder, got ${positionals.length} (see 'xops diff --help')`);
  const out = outputFormat(values.out, 'markdown');
  const maxBytes = maxBytesOf(values['max-bytes']);
  if (maxBytes !== undefined && out !== 'markdown') throw new UserError('--max-bytes applies to --out markdown only');
  const dir = positionals[0] ?? '.';

  const git = simpleGit(resolve(dir));
  let top: string;
  try {
    top = (await git.revparse(['--show-toplevel'])).trim();
  } catch {
    throw new UserError(`${dir} is not inside a Git repository`);
  }
  const prefix = relative(top, resolve(dir)).split('\\').join('/');
  if (prefix.startsWith('..')) throw new UserError(`${dir} is outside the repository at ${top}`);
  const repoGit = simpleGit(top);
  const base = await resolveCommit(repoGit, values.base, '--base');
  const head = await resolveCommit(repoGit, values.head, '--head');

  // A configuration listing pools: DIR is the repository, each pool diffed from its own paths.
  const fleetOperator = await operatorSettings(values);
  const pools = poolsOf(fleetOperator, values.pool);
  if (pools.length) {
    if (str(values.xapi)) throw new UserError('the configuration lists pools (pools:), each with its own address: drop --xapi');
    if (str(values.server) && (values['allow-adopt'] || values['allow-prune'] || values['allow-destructive'] || str(values['repo-id']))) {
      throw new UserError("--server plans with the replica's pools, limits and repository identity: leave out --repo-id and --allow-*");
    }
    const server = str(values.server)
      ? { url: str(values.server)!, token: await (await import('./remote-plan.js')).serverToken(values, str(values['token-file']) ? undefined : fleetOperator.config.http.tokenFile), objects: out === 'json' }
      : undefined;
    const { diffPools } = await import('./diff-pools.js');
    return diffPools(pools, {
      git: repoGit, top, prefix, dir,
      base: { ref: values.base, commit: base },
      head: { ref: values.head, commit: head },
      out, maxBytes, detailed: values['detailed-exitcode'] === true, repo: repoIdentity(values), operator: fleetOperator,
      ...(server ? { server } : {}),
    });
  }

  let headPlan: Plan;
  let basePlan: Plan;
  if (str(values.server)) {
    refuseServerOverrides(values, "the controller's pool");
    const [{ planOnServer, planOverlayOnServer, basesOnServer, sendable, serverToken }, { treeOverlays }, { repositoryLimits }] = await Promise.all([
      import('./remote-plan.js'),
      import('./git-overlay.js'),
      import('../source/limits.js'),
    ]);
    const server = str(values.server)!;
    const token = await serverToken(values, str(values['token-file']) ? undefined : (await operatorSettings(values)).config.http.tokenFile);
    // Both commits told against one the controller keeps: only the blobs that differ from it go.
    const overlays = await treeOverlays(top, prefix, await basesOnServer(server, token), [head, base], repositoryLimits({}));
    let answer = 'sets' in overlays ? await planOverlayOnServer(server, token, dir, { ...overlays.sets[0]!, commit: head }, out === 'json', { ...overlays.sets[1]!, commit: base }) : undefined;
    if (!answer) {
      const [headFiles, baseFiles] = await Promise.all([manifestFilesAt(repoGit, top, head, prefix), manifestFilesAt(repoGit, top, base, prefix)]);
      answer = await planOnServer(server, token, dir, { files: sendable(headFiles), commit: head }, { files: sendable(baseFiles), commit: base }, out === 'json');
    }
    const now = new Date().toISOString();
    headPlan = remotePlanOrInvalid(answer.head, now, { path: dir, commit: head });
    if (!answer.base) throw new UserError(`--server ${values.server}: the controller did not plan the base commit`);
    basePlan = remotePlanOrInvalid(answer.base, now, { path: dir, commit: base });
  } else {
    const observed = await (await import('./connection.js')).observePool(values);
    const now = new Date();
    const repo = repoIdentity(values);
    const operator = await operatorSettings(values);
    const passwordFile = str(values['password-file']);
    headPlan = await planAt(repoGit, top, head, prefix, dir, observed, repo, now, operator, passwordFile);
    basePlan = await planAt(repoGit, top, base, prefix, dir, observed, repo, now, operator, passwordFile);
  }
  const plan = markIntroduced(headPlan, basePlan);
  const title = `xops diff \`${values.base}\` (${base.slice(0, 12)}) → \`${values.head}\` (${head.slice(0, 12)})`;
  printPlan(plan, out, { maxBytes, title, fullPlanHint: `xops diff --base ${values.base} --head ${values.head} --out text` });
  if (hasProblems(plan)) return 1;
  return values['detailed-exitcode'] === true && plan.actions.some((a) => a.introduced) ? 2 : 0;
}
