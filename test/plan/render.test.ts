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

describe('markdown size budget', () => {
  function bigPlan(): Plan {
    const plan = samplePlan();
    const create = plan.actions.find((a) => a.operation === 'create')!;
    const filler = Array.from({ length: 400 }, (_, i) => ({ ...create, id: `create:VM/bulk-${i}`, address: `VM/bulk-${i}` }));
    return { ...plan, actions: [...filler, ...plan.actions] };
  }

  it('stays within the budget, keeping the summary and every disruptive action row, and says what it left out', () => {
    const plan = bigPlan();
    const md = renderMarkdown(plan, { maxBytes: 4000, fullPlanHint: 'xops plan infra --out text' });
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(4000);
    expect(md).toContain(`**${summaryLine(plan)}**`);
    for (const a of plan.actions.filter((x) => x.disruption !== 'none')) expect(md).toContain(`| \`${a.address}\` | ${a.operation} | ${a.disruption} |`);
    expect(md).toMatch(/> Shortened to fit 4000 bytes: left out \d+ of 403 action rows, the field changes of \d+ action\(s\)\. Run `xops plan infra --out text`/);
  });

  it('never goes over, whatever the budget', () => {
    const plan = bigPlan();
    for (const maxBytes of [1024, 1500, 2500, 7000, 20_000, 60_000]) {
      expect(Buffer.byteLength(renderMarkdown(plan, { maxBytes, fullPlanHint: 'xops diff --base origin/main --head HEAD --out text' }))).toBeLessThanOrEqual(maxBytes);
    }
  });

  it('the default budget fits a GitHub comment (65,536 characters) even for a 400-VM plan; a small plan is untouched', () => {
    expect(Buffer.byteLength(renderMarkdown(bigPlan()))).toBeLessThanOrEqual(65_536);
    expect(renderMarkdown(samplePlan())).not.toContain('Shortened');
  });

  it('a title replaces the heading (xops diff names base and head)', () => {
    expect(renderMarkdown(samplePlan(), { title: 'xops diff `main` → `HEAD`' }).split('\n')[0]).toBe('### xops diff `main` → `HEAD`');
  });
});

describe('summary counts', () => {
  it('adopt actions are counted on their own, so the operations add up to the actions', () => {
    const plan = samplePlan();
    plan.actions = [...plan.actions, { ...plan.actions[0], id: 'adopt:VM/old', address: 'VM/old', operation: 'adopt', disruption: 'none', changes: [] }];
    // The sample plan also refuses one change, which the summary counts after the actions.
    expect(summaryLine(plan)).toBe('1 to create, 1 to update, 1 to adopt, 0 to replace, 1 to delete — 1 need a reboot, 0 cause downtime, 1 destructive; 1 refused (an error: those changes are not made)');
  });

  it('NO_COLOR set to anything, even empty, disables colour; FORCE_COLOR enables it off a terminal', () => {
    expect(shouldColor({ isTTY: true }, { NO_COLOR: '' })).toBe(false);
    expect(shouldColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(shouldColor({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false);
    expect(shouldColor({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '' })).toBe(false);
  });
});
