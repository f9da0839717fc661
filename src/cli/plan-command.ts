import { writeFile } from 'node:fs/promises';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { liveInventoryFrom, loadManifests } from '../manifests/index.js';
import { gatedPlan } from '../plan/pipeline.js';
import { checkAdmission } from '../policy/index.js';
import { hasChanges, renderMarkdown, renderText, shouldColor } from '../render/index.js';
import { parseCommandArgs } from './args.js';
import { operatorChecks } from '../config/checks.js';
import { OPERATOR_CONFIG_USAGE, operatorConfigOptions, operatorSettings, type OperatorSettings } from './operator-config.js';
import { CONNECTION_USAGE, connectionOptions, observePool } from './connection.js';
import { UserError } from './errors.js';
import { REPO_ID_HELP, repoIdOption, repoIdentity } from './repo-identity.js';

const USAGE = `usage: xops plan [DIR] [--out text|json|markdown] [--save FILE] [--detailed-exitcode] [connection options]

Shows what apply would change in the pool to match the manifests under DIR (default .), field by
field, and what each change costs the running workload (none, reboot, downtime, destructive).

  --out FORMAT          text (default; colour on a terminal unless NO_COLOR is set), json (the
                        Plan itself) or markdown (a pull-request comment)
  --save FILE           also write the plan as JSON, for 'xops apply --plan FILE'
  --detailed-exitcode   exit 0 when there is nothing to do, 2 when there are changes, 1 on error
${REPO_ID_HELP}

${CONNECTION_USAGE}

${OPERATOR_CONFIG_USAGE}`;

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
  opts: { now: Date; repo?: string; operator: OperatorSettings },
): Plan {
  const checked = [...loadDiagnostics, ...checkAdmission(desired), ...operatorChecks(desired, opts.operator.config)];
  return gatedPlan(desired, observed, checked, { now: opts.now, repo: opts.repo, limits: opts.operator.limits, protected: opts.operator.config.protected });
}

/** Prints a plan in the chosen format on stdout; error diagnostics also go to stderr for json/markdown. */
export function printPlan(plan: Plan, out: PlanOutput): void {
  if (out === 'json') process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
  else if (out === 'markdown') process.stdout.write(renderMarkdown(plan));
  else process.stdout.write(renderText(plan, { color: shouldColor(process.stdout) }));
  if (out !== 'text') for (const d of plan.diagnostics) if (d.severity === 'error') process.stderr.write(formatDiagnostic(d) + '\n');
}

/** Exit status: 1 with errors, else with --detailed-exitcode 2 for changes and 0 for none. */
export function exitCode(plan: Plan, detailed: boolean): number {
  if (hasErrors(plan.diagnostics)) return 1;
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
      ...operatorConfigOptions,
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
  const plan = planDesired(desired, diagnostics, observed, { now: new Date(), repo: repoIdentity(values), operator: await operatorSettings(values) });
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
