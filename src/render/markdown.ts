import type { Action, Plan } from '../model/plan.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { countPlan, summaryLine } from './summary.js';
import { htmlText, markdownCode, markdownFence, markdownText } from './escape.js';
import { formatValue } from './values.js';

const ICON: Record<Action['disruption'], string> = { none: '🟢', reboot: '🟡', downtime: '🟠', destructive: '🔴' };

/** Table cells and prose: names and reasons come from the pool and the repository (escape.ts). */
const cell = markdownText;
const code = markdownCode;

/**
 * The plan as a pull-request comment: the summary, a table of actions (what the change introduces
 * first, when `xops diff` marked it), then each resource's field changes in a collapsed section.
 */
export function renderMarkdown(plan: Plan): string {
  const out: string[] = [];
  const commit = plan.source.commit ? ` at \`${plan.source.commit.slice(0, 12)}\`` : '';
  out.push(`### xops plan${commit}`, '', `**${summaryLine(plan)}**`, '');
  const c = countPlan(plan);
  if (c.errors) out.push(`> [!CAUTION]\n> ${c.errors} error(s): this plan cannot be applied as is.`, '');
  if (plan.actions.length === 0) out.push('No changes: the pool matches the manifests.', '');
  const marked = plan.actions.some((a) => a.introduced !== undefined);
  if (plan.actions.length) {
    out.push(`| | Resource | Action | Disruption | Why |${marked ? ' This change |' : ''}`);
    out.push(`|---|---|---|---|---|${marked ? '---|' : ''}`);
    const rows = marked ? [...plan.actions].sort((x, y) => Number(!!y.introduced) - Number(!!x.introduced)) : plan.actions;
    for (const a of rows) {
      const held = a.gate.state === 'held' ? ` (held: ${a.gate.reason})` : '';
      const drift = a.drift ? ' (drift)' : '';
      out.push(`| ${ICON[a.disruption]} | ${code(a.address)} | ${a.operation}${drift} | ${a.disruption} | ${cell(a.reason + held)} |${marked ? ` ${a.introduced ? 'introduced' : 'already pending'} |` : ''}`);
    }
    out.push('');
    for (const a of plan.actions) {
      if (a.changes.length === 0) continue;
      out.push(`<details><summary>${ICON[a.disruption]} <code>${htmlText(a.address)}</code> — ${a.operation} (${a.disruption})</summary>`, '');
      out.push('| Field | From | To | Disruption | Why |', '|---|---|---|---|---|');
      for (const ch of a.changes) {
        const from = a.operation === 'create' ? '' : code(formatValue(ch.path, ch.from));
        out.push(`| ${code(ch.path)} | ${from} | ${code(formatValue(ch.path, ch.to))} | ${ch.disruption} | ${cell(ch.reason ?? '')} |`);
      }
      out.push('', '</details>', '');
    }
  }
  if (plan.refused.length) {
    out.push('#### Refused (not planned)', '');
    for (const r of plan.refused) out.push(`- ${code(r.address, false)} ${code(r.path, false)}: ${cell(r.reason)}`);
    out.push('');
  }
  if (plan.diagnostics.length) {
    out.push('#### Diagnostics', '', ...markdownFence(plan.diagnostics.map(formatDiagnostic)), '');
  }
  return out.join('\n');
}
