import { readFile } from 'node:fs/promises';
import { savedPlanIntegrity, savedPlanProblems } from '../plan/saved-plan.js';
import { createInterface } from 'node:readline/promises';
import { pino } from 'pino';
import { hasErrors } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { Action, Plan } from '../model/plan.js';
import { liveInventoryFrom, loadManifests } from '../manifests/index.js';
import { takeSnapshot } from '../observe/snapshot.js';
import { staleObjects } from '../plan/index.js';
import { destructiveApproved } from '../policy/approval.js';
import { renderText, shouldColor } from '../render/index.js';
import { applyPlan, type ApplyResult } from '../apply/executor.js';
import { humanLogDestination } from '../controller/human-log.js';
import { formatSummary, logProgress, ttyProgress, type Progress } from '../apply/progress.js';
import type { XapiClient } from '../xapi/client.js';
import { holdApplyLease } from './apply-lease.js';
import { parseCommandArgs, str } from './args.js';
import { defaultCacheRoot } from './cache-dir.js';
import { holderFile, persistentHolder } from '../controller/holder-identity.js';
import { CONNECTION_USAGE, connectFromArgs, connectionOptions } from './connection.js';
import { errnoCodesInWords, fsErrorInWords } from './errno.js';
import { printDiagnostics } from './diagnostics-output.js';
import { UserError } from './errors.js';
import { alignOptions } from './usage.js';
import { noManifestsWarning } from './no-manifests.js';
import { poolsOf, printProblems } from './plan-command.js';
import { POOL_SELECTION_USAGE, poolSelectionOptions } from '../fleet/per-pool.js';
import { cliCredentialChanges, cliSecretSource, planDesired } from './plan-desired.js';
import { OPERATOR_CONFIG_USAGE, operatorConfigOptions, operatorSettings, type OperatorSettings } from './operator-config.js';
import { REPO_ID_HELP, repoIdOption, repoIdentity } from './repo-identity.js';

const USAGE = alignOptions(`usage: xops apply [DIR | --plan FILE] [--yes] [--concurrency N] [--allow-destructive] [connection options]

Makes the pool match the manifests under DIR (default .), or carries out a plan saved with
'xops plan --save FILE'. Shows the plan first and asks for confirmation on a terminal.
The plan and the summary go to stdout; problems and progress go to stderr.

  --plan FILE           apply a saved plan; refused when the pool changed since it was made
  --yes                 do not ask (required when stdin is not a terminal)
  --concurrency N       actions running at once (default 8)
  --allow-destructive   also: run destructive actions (data loss) even without a policy's approval
  --force-lease         apply even though a controller or another apply holds the pool's lease
                        (dangerous: two writers at once; without it, apply refuses and says who)
  --log-format text|json
                        progress on stderr: text for people (a live display on a terminal),
                        json: pino JSON lines (default: text on a terminal, json otherwise)
${REPO_ID_HELP}
${POOL_SELECTION_USAGE}
                        (DIR is then the repository; every selected pool is planned and shown
                        under its own lease, one confirmation covers them all)

Ctrl-C (or SIGTERM) while applying: no further action starts, the ones in flight finish (an
object is never left without its marks), the summary says what was done and what was not.
A second Ctrl-C does not cut the actions in flight short.

Exit status: 0 when every action succeeded (or was held by a policy), 1 otherwise, 130 when
interrupted.

${CONNECTION_USAGE}

${OPERATOR_CONFIG_USAGE}`, 24);

/** A saved plan file, checked enough to be executed. */
async function readSavedPlan(file: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError(`--plan: cannot read ${file}: ${fsErrorInWords(err)}`);
  }
  let plan: Plan;
  try {
    plan = JSON.parse(text) as Plan;
  } catch (err) {
    throw new UserError(`--plan: ${file} is not JSON: ${(err as Error).message}`);
  }
  if (plan?.formatVersion !== 1 || !Array.isArray(plan.actions) || !plan.observed) {
    throw new UserError(`--plan: ${file} is not a plan saved by 'xops plan --save' (format version 1)`);
  }
  const broken = savedPlanIntegrity(plan);
  if (broken) throw new UserError(`--plan: ${file} is refused: ${broken}`);
  return plan;
}

/** The plan to execute: a saved one (refused when stale) or a fresh one from DIR. Undefined after printing errors. */
async function makePlan(
  client: XapiClient,
  values: Record<string, unknown>,
  dir: string | undefined,
  operator: OperatorSettings,
): Promise<{ plan: Plan; desired?: DesiredState } | undefined> {
  const observed = await takeSnapshot(client);
  if (typeof values.plan === 'string') {
    const plan = await readSavedPlan(values.plan);
    const stale = staleObjects(plan.observed, observed);
    if (stale.length > 0) {
      throw new UserError(
        `the saved plan ${values.plan} is stale: the pool changed since it was made; plan again.\n` +
          stale.map((line) => `  - ${line}`).join('\n'),
      );
    }
    // The pool may have become protected or been re-marked in ways the staleness digests do not cover.
    const problems = savedPlanProblems(plan, observed, { protected: operator.config.protected, repo: repoIdentity(values) });
    if (problems.length > 0) {
      throw new UserError(`the saved plan ${values.plan} is refused: it touches objects it must not\n` + problems.map((p) => `  - ${p}`).join('\n'));
    }
    return { plan };
  }
  const folder = dir ?? '.';
  const { desired, diagnostics } = await loadManifests(folder, { live: liveInventoryFrom(observed), limits: operator.config.repository });
  const repo = repoIdentity(values);
  const changedCredentials = await cliCredentialChanges(desired, observed, operator, str(values['password-file']), repo);
  const plan = await planDesired(desired, [...noManifestsWarning(folder, desired, diagnostics), ...diagnostics], observed, { now: new Date(), repo, operator, changedCredentials });
  if (hasErrors(plan.diagnostics)) {
    printDiagnostics(plan.diagnostics);
    process.stderr.write(`xops: the manifests under ${folder} have errors; nothing was applied\n`);
    return undefined;
  }
  return { plan, desired };
}

/**
 * A destructive action runs only with --allow-destructive, or when a policy that requires approval
 * for destructive changes let it through (its gate is allowed, so the approval was given).
 */
export function destructivePolicy(desired: DesiredState | undefined, flag: boolean): (action: Action) => boolean {
  return (action) => flag || (desired !== undefined && destructiveApproved(desired, action));
}

/** Asks on the terminal; true only for the answer `yes`. */
export async function confirm(count: number, where = 'the pool'): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Apply ${count} action${count === 1 ? '' : 's'} to ${where}? Only 'yes' is accepted: `);
    return answer.trim() === 'yes';
  } finally {
    rl.close();
  }
}

/** `--concurrency`, checked: 1 to 256, default 8. */
export function concurrencyOf(value: unknown): number {
  if (value === undefined) return 8;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UserError(`--concurrency must be a whole number from 1 to 256, not '${String(value)}'`);
  return n;
}

/** `xops apply [DIR | --plan FILE]`: shows the plan, asks, applies, summarises; exit 1 when anything failed. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    {
      plan: { type: 'string' },
      yes: { type: 'boolean' },
      concurrency: { type: 'string' },
      'force-lease': { type: 'boolean' },
      'log-format': { type: 'string' },
      ...repoIdOption,
      ...connectionOptions,
      ...operatorConfigOptions,
      ...poolSelectionOptions,
    },
    USAGE,
  );
  if (help) return 0;
  if (positionals.length > 1) throw new UserError(`apply takes one folder, got ${positionals.length} (see 'xops apply --help')`);
  if (positionals.length === 1 && values.plan !== undefined) throw new UserError('give either a folder or --plan FILE, not both');
  const concurrency = concurrencyOf(values.concurrency);
  const logFormat = values['log-format'] ?? (process.stderr.isTTY ? 'text' : 'json');
  if (logFormat !== 'text' && logFormat !== 'json') throw new UserError(`--log-format must be text or json, not '${String(logFormat)}'`);
  if (!values.yes && !process.stdin.isTTY) {
    throw new UserError('refusing to apply without confirmation: stdin is not a terminal; pass --yes');
  }

  // A configuration listing pools: DIR is the repository, each pool applied from its own paths.
  const fleetOperator = await operatorSettings(values);
  const pools = poolsOf(fleetOperator, values.pool);
  if (pools.length) {
    if (values.plan !== undefined) throw new UserError('--plan applies a plan saved for one pool; with a configuration that lists pools, apply the repository folder (--pool NAME to narrow it)');
    for (const flag of ['xapi', 'password-file']) if (values[flag] !== undefined) throw new UserError(`--${flag}: the configuration lists pools (pools:), each with its own address and credentials; drop --${flag}`);
    const { applyPools } = await import('./apply-pools.js');
    return applyPools(pools, {
      repoDir: positionals[0] ?? '.',
      yes: values.yes === true,
      concurrency,
      forceLease: values['force-lease'] === true,
      logFormat,
      allowDestructive: values['allow-destructive'] === true,
      repo: repoIdentity(values),
      operator: fleetOperator,
    });
  }

  const client = await connectFromArgs(values);
  // The lease is taken before planning, so that nothing else changes the pool between plan and apply.
  let lease: Awaited<ReturnType<typeof holdApplyLease>> | undefined;
  try {
    const poolUrl = str(values.xapi) ?? process.env.XOPS_XAPI_URL ?? '';
    lease = await holdApplyLease(client, {
      holder: `xops-apply:${persistentHolder(holderFile(defaultCacheRoot(), `apply ${poolUrl}`))}`,
      force: values['force-lease'] === true,
      warn: (l) => process.stderr.write(`xops: ${l}\n`),
    });
    const operator = await operatorSettings(values);
    const made = await makePlan(client, values, positionals[0], operator);
    if (!made) return 1;
    const { plan, desired } = made;
    process.stdout.write(renderText(plan, { color: shouldColor(process.stdout), diagnostics: false }));
    // Refused changes are errors: the rest is applied, and the exit status says the pool still differs.
    const refused = plan.refused.length > 0;
    printProblems(plan);
    if (plan.actions.length === 0) return refused ? 1 : 0;
    if (!values.yes && !(await confirm(plan.actions.length))) {
      process.stderr.write('xops: apply cancelled; nothing was changed\n');
      return 1;
    }

    const log = pino(
      { base: undefined, redact: ['*.password', '*.device_config'] },
      // Synchronous, as process.stderr is: log lines and the closing lines must reach stderr in the order written.
      logFormat === 'json' ? pino.destination({ dest: 2, sync: true }) : humanLogDestination((text) => void process.stderr.write(text)),
    );
    const live = logFormat === 'text' && process.stderr.isTTY;
    const progress: Progress = live ? ttyProgress(process.stderr, plan.actions) : logProgress(log);
    const interrupt = interruptOnSignals();
    let result: ApplyResult;
    try {
      result = await applyPlan(plan, client, {
        repo: repoIdentity(values),
        concurrency,
        destructiveAllowed: destructivePolicy(desired, values['allow-destructive'] === true),
        secrets: cliSecretSource(operator, str(values['password-file'])),
        log: live ? undefined : log,
        listener: progress,
        signal: AbortSignal.any([lease.signal, interrupt.signal]),
      }).finally(() => progress.stop());
    } finally {
      interrupt.release();
    }
    // Reasons may end in an errno code (a secret file that cannot be read): in words.
    process.stdout.write(formatSummary(result).split('\n').map(errnoCodesInWords).join('\n'));
    if (interrupt.signal.aborted) {
      process.stderr.write(interruptedLine(result) + '\n');
      return 130;
    }
    if (refused) process.stderr.write(`xops: ${plan.refused.length} change(s) were refused and not applied (see above)\n`);
    return result.ok && !refused ? 0 : 1;
  } finally {
    await lease?.release().catch(() => undefined);
    await client.close();
  }
}

/**
 * While applying, SIGINT/SIGTERM abort the run: no further action starts, those in flight finish (so
 * nothing is left created without its marks). A second signal only says that it is still finishing.
 */
export function interruptOnSignals(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write('xops: still finishing the actions in flight; they are not cut short, so no object is left half-made\n');
      return;
    }
    process.stderr.write(`xops: ${name === 'SIGINT' ? 'interrupted' : name}: starting nothing more, finishing the actions in flight\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** What an interrupted run did and did not do, in one line. */
export function interruptedLine(result: ApplyResult): string {
  const done = result.results.filter((r) => r.state === 'succeeded').length;
  // Skipped: not started because of the interruption, or waiting on an action that was not started.
  const notStarted = result.results.filter((r) => r.state === 'skipped').length;
  const failed = result.results.filter((r) => r.state === 'failed').length;
  return (
    `xops: apply interrupted: ${done} action(s) done, ${notStarted} not started` +
    (failed ? `, ${failed} failed` : '') +
    `; run the same apply again to finish (exit 130)`
  );
}
