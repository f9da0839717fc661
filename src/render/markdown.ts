import type { Action, Plan } from '../model/plan.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { countPlan, summaryLine } from './summary.js';
import { htmlText, markdownCode, markdownFence, markdownText } from './escape.js';
import { formatValue } from './values.js';
import { rolloutStepLine } from './rollout.js';

const ICON: Record<Action['disruption'], string> = { none: '🟢', reboot: '🟡', downtime: '🟠', destructive: '🔴' };

/**
 * GitHub refuses issue and pull-request comments over 65,536 characters. The default budget stays
 * below that in UTF-8 bytes (never fewer than characters), with room for a line a CI job adds.
 */
export const GITHUB_COMMENT_BUDGET = 65_000;

/** The smallest budget that still holds a heading, the summary and the note saying what was left out. */
const MIN_BUDGET = 1_024;

/** Options of the Markdown renderer. */
export interface MarkdownOptions {
  /**
   * Size limit of the comment in UTF-8 bytes (default GITHUB_COMMENT_BUDGET). Over it, the summary and
   * the rows of disruptive actions stay whole; the rest is left out, least important first, and a
   * closing line says how much and how to see all.
   */
  maxBytes?: number;
  /** The heading's text instead of `xops plan at <commit>`: `xops diff` names the base and head. */
  title?: string;
  /** The command that shows the whole plan, for the closing line when something was left out. */
  fullPlanHint?: string;
}

/** Table cells and prose: names and reasons come from the pool and the repository (escape.ts). */
const cell = markdownText;
const code = markdownCode;

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function row(a: Action, marked: boolean): string {
  const held = a.gate.state === 'held' ? ` (held: ${a.gate.reason})` : '';
  const drift = a.drift ? ' (drift)' : '';
  const batch = a.rollout ? ` (${rolloutStepLine(a.rollout)})` : '';
  return `| ${ICON[a.disruption]} | ${code(a.address)} | ${a.operation}${drift} | ${a.disruption} | ${cell(a.reason + held + batch)} |${marked ? ` ${a.introduced ? 'introduced' : 'already pending'} |` : ''}`;
}

function details(a: Action): string {
  const out = [`<details><summary>${ICON[a.disruption]} <code>${htmlText(a.address)}</code> — ${a.operation} (${a.disruption})</summary>`, ''];
  out.push('| Field | From | To | Disruption | Why |', '|---|---|---|---|---|');
  for (const ch of a.changes) {
    const from = a.operation === 'create' ? '' : code(formatValue(ch.path, ch.from));
    out.push(`| ${code(ch.path)} | ${from} | ${code(formatValue(ch.path, ch.to))} | ${ch.disruption} | ${cell(ch.reason ?? '')} |`);
  }
  out.push('', '</details>', '');
  return out.join('\n');
}

/**
 * The plan as a pull-request comment: the summary, a table of actions (what the change introduces
 * first, when `xops diff` marked it), then each resource's field changes in a collapsed section,
 * refusals and diagnostics. Always within `maxBytes`: see MarkdownOptions.
 */
export function renderMarkdown(plan: Plan, opts: MarkdownOptions = {}): string {
  const budget = Math.max(MIN_BUDGET, opts.maxBytes ?? GITHUB_COMMENT_BUDGET);
  const head: string[] = [];
  const title = opts.title ?? `xops plan${plan.source.commit ? ` at \`${plan.source.commit.slice(0, 12)}\`` : ''}`;
  head.push(`### ${title}`, '', `**${summaryLine(plan)}**`, '');
  const c = countPlan(plan);
  if (c.errors) head.push(`> [!CAUTION]\n> ${c.errors} error(s): this plan cannot be applied as is.`, '');
  if (plan.actions.length === 0) head.push('No changes: the pool matches the manifests.', '');

  const marked = plan.actions.some((a) => a.introduced !== undefined);
  const actions = marked ? [...plan.actions].sort((x, y) => Number(!!y.introduced) - Number(!!x.introduced)) : plan.actions;
  const disruptive = actions.filter((a) => a.disruption !== 'none');
  const calm = actions.filter((a) => a.disruption === 'none');
  const tableHead = actions.length
    ? `| | Resource | Action | Disruption | Why |${marked ? ' This change |' : ''}\n|---|---|---|---|---|${marked ? '---|' : ''}\n`
    : '';
  const refused = plan.refused.length
    ? ['#### Refused (not planned)', '', ...plan.refused.map((r) => `- ${code(r.address, false)} ${code(r.path, false)}: ${cell(r.reason)}`), ''].join('\n') + '\n'
    : '';
  const diagnostics = plan.diagnostics.length
    ? ['#### Diagnostics', '', ...markdownFence(plan.diagnostics.map(formatDiagnostic)), ''].join('\n') + '\n'
    : '';
  const withChanges = (list: Action[]) => list.filter((a) => a.changes.length > 0);

  // Everything, in the order a reviewer reads it.
  const full =
    head.join('\n') + '\n' + tableHead + actions.map((a) => row(a, marked) + '\n').join('') + (actions.length ? '\n' : '') +
    withChanges(actions).map((a) => details(a) + '\n').join('') + refused + diagnostics;
  if (bytes(full) <= budget) return full;

  // Over budget: what must stay (heading, summary, disruptive rows), then the rest by importance:
  // refusals, diagnostics, the other rows, field details.
  const hint = opts.fullPlanHint ?? 'xops plan --out text';
  const note = (left: string[]) =>
    `> [!NOTE]\n> Shortened to fit ${budget} bytes: left out ${left.join(', ')}. Run \`${cell(hint)}\` (or see the CI job's full plan artifact) to see all.\n`;
  // Room for the closing note at its longest.
  const n = '9'.repeat(String(actions.length + plan.refused.length + plan.diagnostics.length).length);
  const reserve = bytes(note([`${n} of ${n} action rows (${n} disruptive)`, `the field changes of ${n} action(s)`, `${n} refusal(s)`, `${n} diagnostic(s)`]));
  let used = bytes(head.join('\n') + '\n' + tableHead) + reserve + 1; // + the blank line after the table
  const take = (piece: string): boolean => {
    if (used + bytes(piece) > budget) return false;
    used += bytes(piece);
    return true;
  };
  const keptRows = new Set<Action>();
  for (const a of disruptive) if (take(row(a, marked) + '\n')) keptRows.add(a);
  const droppedDisruptive = disruptive.length - keptRows.size;
  // Refusals and diagnostics are what a reviewer must act on: before the quiet rows and the details.
  const keepRefused = refused !== '' && take(refused);
  const keepDiagnostics = diagnostics !== '' && take(diagnostics);
  for (const a of calm) if (take(row(a, marked) + '\n')) keptRows.add(a);
  const droppedRows = actions.length - keptRows.size;
  const keptDetails = new Set<Action>();
  for (const a of [...withChanges(disruptive), ...withChanges(calm)]) if (keptRows.has(a) && take(details(a) + '\n')) keptDetails.add(a);
  const droppedDetails = withChanges(actions).length - keptDetails.size;

  const left: string[] = [];
  if (droppedRows) left.push(`${droppedRows} of ${actions.length} action rows${droppedDisruptive ? ` (${droppedDisruptive} disruptive)` : ''}`);
  if (droppedDetails) left.push(`the field changes of ${droppedDetails} action(s)`);
  if (refused && !keepRefused) left.push(`${plan.refused.length} refusal(s)`);
  if (diagnostics && !keepDiagnostics) left.push(`${plan.diagnostics.length} diagnostic(s)`);

  return (
    head.join('\n') + '\n' + tableHead +
    actions.filter((a) => keptRows.has(a)).map((a) => row(a, marked) + '\n').join('') + '\n' +
    withChanges(actions).filter((a) => keptDetails.has(a)).map((a) => details(a) + '\n').join('') +
    (keepRefused ? refused : '') + (keepDiagnostics ? diagnostics : '') + note(left)
  );
}
