import type { Plan } from '../model/plan.js';
import { hasErrors } from '../model/diagnostics.js';
import { formatRefusal, hasChanges, onlyHeldChanges, renderMarkdown, renderText, shouldColor, type MarkdownOptions } from '../render/index.js';
import { printDiagnostics } from './diagnostics-output.js';
import { UserError } from './errors.js';

export const OUTPUTS = ['text', 'json', 'markdown'] as const;
export type PlanOutput = (typeof OUTPUTS)[number];

/** The output format flag, checked. */
export function outputFormat(value: unknown, fallback: PlanOutput): PlanOutput {
  const out = value ?? fallback;
  if (!(OUTPUTS as readonly unknown[]).includes(out)) throw new UserError(`--out must be one of ${OUTPUTS.join(', ')}, not '${String(out)}'`);
  return out as PlanOutput;
}

/** `--max-bytes N`, checked: a whole number of bytes a comment may take. */
export function maxBytesOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1024) throw new UserError(`--max-bytes must be a whole number of bytes, at least 1024, not '${text}'`);
  return Number(text);
}

/**
 * Prints a plan in the chosen format on stdout. Every diagnostic and refusal goes to stderr (the text
 * plan leaves diagnostics out; json and markdown keep them in the document too, as programs read those).
 */
export function printPlan(plan: Plan, out: PlanOutput, markdown: MarkdownOptions = {}): void {
  if (out === 'json') process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
  else if (out === 'markdown') process.stdout.write(renderMarkdown(plan, markdown));
  else process.stdout.write(renderText(plan, { color: shouldColor(process.stdout), diagnostics: false }));
  printProblems(plan);
}

/** The plan's diagnostics, then its refusals, on stderr, one line each. */
export function printProblems(plan: Plan): void {
  printDiagnostics(plan.diagnostics);
  for (const r of plan.refused) process.stderr.write(`xops: ${formatRefusal(r)}\n`);
}

/** True when the plan has an error or refuses a change: the pool will not match the manifests. */
export function hasProblems(plan: Plan): boolean {
  return hasErrors(plan.diagnostics) || plan.refused.length > 0;
}

/**
 * Exit status: 1 with errors or refusals (also with --detailed-exitcode), else with
 * --detailed-exitcode 2 for changes and 0 for none. A plan whose every action is held still exits 2
 * (the changes are due, only not now) and says so on stderr.
 */
export function exitCode(plan: Plan, detailed: boolean): number {
  if (hasProblems(plan)) return 1;
  if (!detailed || !hasChanges(plan)) return 0;
  if (onlyHeldChanges(plan)) {
    process.stderr.write(`xops: all ${plan.actions.length} planned action(s) are held by policy: apply would change nothing now (exit 2: changes pending)\n`);
  }
  return 2;
}

