import type { Action, Plan, Refusal } from '../model/plan.js';
import type { Disruption } from '../model/kinds.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { summaryLine } from './summary.js';
import { terminalText as t } from './escape.js';
import { formatValue } from './values.js';
import { rolloutBatchLine, rolloutBatches, rolloutHeading, rolloutStepLine } from './rollout.js';

/** Options of the text renderer. */
export interface TextOptions {
  /** ANSI colours; the CLI turns them on for a TTY unless NO_COLOR is set. */
  color: boolean;
  /**
   * Include the plan's diagnostics (default true, as the controller's console shows them). The CLI
   * passes false and prints them on stderr, so stdout carries only the plan.
   */
  diagnostics?: boolean;
}

const CODES = { red: 31, green: 32, yellow: 33, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
type Style = keyof typeof CODES;

const SYMBOL: Record<Action['operation'], [string, Style]> = {
  create: ['+', 'green'],
  update: ['~', 'yellow'],
  replace: ['-/+', 'red'],
  delete: ['-', 'red'],
  power: ['>', 'cyan'],
  migrate: ['>', 'cyan'],
  adopt: ['@', 'cyan'],
};
const DISRUPTION_STYLE: Record<Disruption, Style> = { none: 'dim', reboot: 'yellow', downtime: 'magenta', destructive: 'red' };

/** One refusal on one line, for stderr: `refused VM/big spec.memory: needs 100 GiB ...`. */
export function formatRefusal(r: Refusal): string {
  return `refused ${r.address} ${r.path}: ${r.reason}`;
}

/**
 * The plan for a terminal, Terraform-style: one block per action with its field changes and what
 * each costs, held actions with why, refusals and diagnostics, then the summary line.
 */
export function renderText(plan: Plan, opts: TextOptions): string {
  const paint = (style: Style, s: string) => (opts.color ? `\x1b[${CODES[style]}m${s}\x1b[0m` : s);
  const lines: string[] = [];
  const source = plan.source.commit ? ` at ${plan.source.commit.slice(0, 12)}` : '';
  lines.push(paint('bold', `xops plan for ${t(plan.source.path)}${t(source)}`), '');
  if (plan.actions.length === 0) lines.push('No changes: the pool matches the manifests.', '');
  for (const a of plan.actions) {
    const [sym, style] = SYMBOL[a.operation];
    const cost = a.disruption === 'none' ? '' : ' ' + paint(DISRUPTION_STYLE[a.disruption], `[${a.disruption}]`);
    const marks = [a.drift ? paint('yellow', '(drift)') : '', a.introduced ? paint('cyan', '(new in this change)') : ''].filter(Boolean).join(' ');
    lines.push(`${paint(style, `${sym.padStart(3)} ${a.operation}`)} ${paint('bold', t(a.address))}${cost}${marks ? ' ' + marks : ''}`);
    lines.push(`      ${paint('dim', t(a.reason))}`);
    for (const c of a.changes) {
      const value = t(a.operation === 'create' ? formatValue(c.path, c.to) : `${formatValue(c.path, c.from)} → ${formatValue(c.path, c.to)}`);
      const why = c.disruption !== 'none' && c.reason ? '  ' + paint(DISRUPTION_STYLE[c.disruption], `(${c.disruption}: ${t(c.reason)})`) : '';
      lines.push(`      ${t(c.path)}: ${value}${why}`);
    }
    if (a.gate.state === 'held') lines.push(`      ${paint('yellow', `held by ${t(a.gate.policy)}: ${t(a.gate.reason)}`)}`);
    if (a.snapshotBefore) lines.push(`      ${paint('dim', 'the VM is snapshotted first')}`);
    if (a.rollout) lines.push(`      ${paint('cyan', t(rolloutStepLine(a.rollout)))}`);
    lines.push('');
  }
  const batches = rolloutBatches(plan.actions);
  if (batches.length) {
    let policy: string | undefined;
    for (const b of batches) {
      if (b.policy !== policy) {
        if (policy !== undefined) lines.push('');
        policy = b.policy;
        lines.push(paint('cyan', t(rolloutHeading(b))));
      }
      lines.push(`  ${t(rolloutBatchLine(b))}`);
    }
    lines.push('');
  }
  if (plan.refused.length) {
    lines.push(paint('red', 'Refused (not planned; an error until fixed):'));
    for (const r of plan.refused) {
      const change = r.from !== undefined || r.to !== undefined ? t(` ${formatValue(r.path, r.from)} → ${formatValue(r.path, r.to)}`) : '';
      lines.push(`  ${t(r.address)} ${t(r.path)}:${change} — ${t(r.reason)}`);
    }
    lines.push('');
  }
  const diagnostics = opts.diagnostics === false ? [] : plan.diagnostics;
  for (const d of diagnostics) lines.push(paint(d.severity === 'error' ? 'red' : 'yellow', t(formatDiagnostic(d))));
  if (diagnostics.length) lines.push('');
  lines.push(paint('bold', `Plan: ${summaryLine(plan)}`));
  return lines.join('\n') + '\n';
}
