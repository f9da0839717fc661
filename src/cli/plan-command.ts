import { writeFile } from 'node:fs/promises';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { liveInventoryFrom, loadManifests } from '../manifests/index.js';
import { gatedPlan } from '../plan/pipeline.js';
import { checkAdmission } from '../policy/index.js';
import { formatRefusal, hasChanges, renderMarkdown, renderText, shouldColor } from '../render/index.js';
import { parseCommandArgs } from './args.js';
import { CONNECTION_USAGE, connectionOptions, observePool } from './connection.js';
import { UserError } from './errors.js';
import { REPO_ID_HELP, repoIdOption, repoIdentity } from './repo-identity.js';

const USAGE = `usage: xops plan [DIR] [--out text|json|markdown] [--save FILE] [--detailed-exitcode] [connection options]

Shows what apply would change in the pool to match the manifests under DIR (default .), field by
field, and what each change costs the running workload (none, reboot, downtime, destructive).

  --out FORMAT          text (default; colour on a terminal unless NO_COLOR is set), json (the
                        Plan itself) or markdown (a pull-request comment)
  --save FILE           also write the plan as JSON, for 'xops apply --plan FILE'
  --detailed-exitcode   exit 0 when there is nothing to do, 2 when there are changes, 1 on an
                        error or a refused change (without it: 1 on those, else 0)
${REPO_ID_HELP}

${CONNECTION_USAGE}`;

export const OUTPUTS = ['text', 'json', 'markdown'] as const;
export type PlanOutput = (typeof OUTPUTS)[number];

/** The output format flag, checked. */
export function outputFormat(value: unknown, fallback: PlanOutput): PlanOutput {
  const out = value ?? fallback;
  if (!(OUTPUTS as readonly unknown[]).includes(out)) throw new UserError(`--out must be one of ${OUTPUTS.join(', ')}, not '${String(out)}'`);
  return out as PlanOutput;
}

/** After loading: admission, then the gated plan. Diagnostics from loading and admission come first. */
export function planDesired(
  desired: DesiredState,
  loadDiagnostics: Diagnostic[],
  observed: ObservedState,
  opts: { now: Date; repo?: string },
): Plan {
  return gatedPlan(desired, observed, [...loadDiagnostics, ...checkAdmission(desired)], opts);
}

/** Prints a plan in the chosen format on stdout; its problems (errors, refusals) also go to stderr. */
export function printPlan(plan: Plan, out: PlanOutput): void {
  if (out === 'json') process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
  else if (out === 'markdown') process.stdout.write(renderMarkdown(plan));
  else process.stdout.write(renderText(plan, { color: shouldColor(process.stdout) }));
  printProblems(plan);
}

/** The plan's problems on stderr, one line each: error diagnostics, then refusals. */
export function printProblems(plan: Plan): void {
  for (const d of plan.diagnostics) if (d.severity === 'error') process.stderr.write(formatDiagnostic(d) + '\n');
  for (const r of plan.refused) process.stderr.write(`xops: ${formatRefusal(r)}\n`);
}

/** True when the plan has an error or refuses a change: the pool will not match the manifests. */
export function hasProblems(plan: Plan): boolean {
  return hasErrors(plan.diagnostics) || plan.refused.length > 0;
}

/**
 * Exit status: 1 with errors or refusals (also with --detailed-exitcode), else with
 * --detailed-exitcode 2 for changes and 0 for none.
 */
export function exitCode(plan: Plan, detailed: boolean): number {
  if (hasProblems(plan)) return 1;
  return detailed && hasChanges(plan) ? 2 : 0;
}

/** `xops plan [DIR]`: the plan against the live pool. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    {
      out: { type: 'string' },
      save: { type: 'string' },
      'detailed-exitcode': { type: 'boolean' },
      ...repoIdOption,
      ...connectionOptions,
    },
    USAGE,
  );
  if (help) return 0;
  if (positionals.length > 1) throw new UserError(`plan takes one folder, got ${positionals.length}\n${USAGE}`);
  const out = outputFormat(values.out, 'text');
  const dir = positionals[0] ?? '.';

  const observed = await observePool(values);
  const { desired, diagnostics } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
  if (hasErrors(diagnostics)) {
    // Planning a partial set of manifests could delete what the broken ones declare: stop here.
    for (const d of diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
    process.stderr.write(`xops: the manifests under ${dir} have errors; nothing was planned\n`);
    return 1;
  }
  const plan = planDesired(desired, diagnostics, observed, { now: new Date(), repo: repoIdentity(values) });
  if (typeof values.save === 'string') {
    try {
      await writeFile(values.save, JSON.stringify(plan, null, 2) + '\n');
    } catch (err) {
      throw new UserError(`--save: cannot write ${values.save}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  printPlan(plan, out);
  return exitCode(plan, values['detailed-exitcode'] === true);
}
