import { describe, expect, it } from 'vitest';
import { planChanges } from '../../src/plan/index.js';
import { renderMarkdown, renderText, shouldColor, summaryLine } from '../../src/render/index.js';
import type { Plan } from '../../src/model/plan.js';
import { GiB, addNfsSR, addVM, basePool, desiredState, vm } from './world.js';

function samplePlan(): Plan {
  const b = basePool();
  addVM(b, { name: 'web01', memory: GiB });
  addVM(b, { name: 'web02', disks: [{ name: 'root', size: 20 * GiB, sr: b.nfs }] });
  addNfsSR(b, 'old', { server: 'nas' });
  return planChanges(
    desiredState({ vms: [vm('web01', { memory: 4 * GiB }), vm('web02', { disks: [{ name: 'root', size: 10 * GiB }] }), vm('web03')] }),
    b.world.state,
    { now: new Date('2025-01-01T00:00:00Z'), prune: true },
  );
}

describe('summary line', () => {
  it('counts actions by operation and by what they cost, and says a refusal is an error', () => {
    expect(summaryLine(samplePlan())).toBe('1 to create, 1 to update, 0 to replace, 1 to delete — 1 need a reboot, 0 cause downtime, 1 destructive; 1 refused (an error: those changes are not made)');
    expect(summaryLine({ ...samplePlan(), refused: [] })).toBe('1 to create, 1 to update, 0 to replace, 1 to delete — 1 need a reboot, 0 cause downtime, 1 destructive');
  });
});

describe('text renderer', () => {
  it('shows each change with sizes in binary units and why it costs a reboot', () => {
    const text = renderText(samplePlan(), { color: false });
    expect(text).toContain('spec.memory: 1 GiB → 4 GiB  (reboot: memory above static_max needs the VM halted)');
    expect(text).toContain('VM/web02 spec.disks[root].size: 20 GiB → 10 GiB — shrinking a disk would lose data');
    expect(text.trimEnd().split('\n').at(-1)).toBe(`Plan: ${summaryLine(samplePlan())}`);
    expect(text).not.toContain('\x1b[');
  });

  it('colours only when asked, and the CLI asks only on a TTY without NO_COLOR', () => {
    expect(renderText(samplePlan(), { color: true })).toContain('\x1b[');
    expect(shouldColor({ isTTY: true }, {})).toBe(true);
    expect(shouldColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(shouldColor({ isTTY: false }, {})).toBe(false);
  });

  it('shows a held action with the policy and the reason', () => {
    const plan = samplePlan();
    plan.actions[1] = { ...plan.actions[1], gate: { state: 'held', policy: 'Policy/windows', reason: 'reboots only in the Sunday window' } };
    const text = renderText(plan, { color: false });
    expect(text).toContain('held by Policy/windows: reboots only in the Sunday window');
    expect(summaryLine(plan)).toContain('(1 held by policy)');
  });
});

describe('markdown renderer', () => {
  it('gives a summary table, then per-resource details in collapsed sections', () => {
    const md = renderMarkdown(samplePlan());
    expect(md).toContain(`**${summaryLine(samplePlan())}**`);
    expect(md).toMatch(/\| 🟡 \| `VM\/web01` \| update \| reboot \|/);
    expect(md).toMatch(/<details><summary>🟡 <code>VM\/web01<\/code> — update \(reboot\)<\/summary>/);
    expect(md).toContain('| `spec.memory` | `1 GiB` | `4 GiB` | reboot | memory above static_max needs the VM halted |');
    expect(md).toContain('#### Refused (not planned)');
  });

  it('lists what a pull request introduces first when xops diff marked the actions', () => {
    const plan = samplePlan();
    plan.actions = plan.actions.map((a) => ({ ...a, introduced: a.address === 'VM/web03' }));
    const rows = renderMarkdown(plan).split('\n').filter((l) => l.startsWith('| 🟢') || l.startsWith('| 🟡') || l.startsWith('| 🔴'));
    expect(rows[0]).toContain('`VM/web03`');
    expect(rows[0]).toContain('| introduced |');
    expect(rows.slice(1).every((r) => r.includes('already pending'))).toBe(true);
  });
});
