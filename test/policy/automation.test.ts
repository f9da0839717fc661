import { describe, expect, it } from 'vitest';
import type { AutomationSettings, DesiredPolicy, Match, MaintenanceWindow, RawDocument } from '../../src/model/desired.js';
import type { Action } from '../../src/model/plan.js';
import { approvalHash } from '../../src/policy/approval.js';
import { applyAutomation } from '../../src/policy/automation.js';
import { action, desired, gates, plan, policy, rawDoc } from './helpers.js';

// Wednesday 2025-03-05 12:00 UTC; the nightly window below opens at 02:00 for two hours.
const NOON = new Date('2025-03-05T12:00:00.000Z');
const NIGHT = new Date('2025-03-06T02:30:00.000Z');
const nightly = (allow: MaintenanceWindow['allow']): MaintenanceWindow => ({ schedule: '0 2 * * *', duration: 7200, allow });

const web01 = rawDoc('VM', 'web01', { labels: { env: 'prod' } });
const web02 = rawDoc('VM', 'web02', { labels: { env: 'prod' } });
const web03 = rawDoc('VM', 'web03', { labels: { env: 'prod' } });
const lab01 = rawDoc('VM', 'lab01', { labels: { env: 'lab' } });
const manifests: RawDocument[] = [web01, web02, web03, lab01];

const p = (name: string, automation: AutomationSettings, match?: Match, annotations: Record<string, string> = {}) =>
  policy(name, match ? { match, automation } : { automation }, annotations);

const reboot = (address: `VM/${string}`, extra: Parameters<typeof action>[1] = {}) =>
  action(address, { disruption: 'reboot', changes: [{ path: 'spec.memory', from: 1, to: 2, disruption: 'reboot' }], ...extra });
const hot = (address: `VM/${string}`, extra: Parameters<typeof action>[1] = {}) => action(address, { disruption: 'none', ...extra });
const deleteDisk = (address: `VM/${string}`) =>
  action(address, {
    operation: 'delete',
    id: `delete:${address}:disk-data`,
    disruption: 'destructive',
    changes: [{ path: 'spec.disks[data]', from: { size: 1 }, to: undefined, disruption: 'destructive' }],
  });

interface Case {
  why: string;
  policies: DesiredPolicy[];
  actions: Action[];
  now?: Date;
  approvals?: string[];
  docs?: RawDocument[];
  expected: Record<string, string>;
  /** Expected gate.policy per held action, where the case is about who decided. */
  heldBy?: Record<string, string>;
}

function run(c: Case) {
  return applyAutomation(plan(c.actions), desired(c.policies, c.docs ?? manifests), { now: c.now ?? NOON, approvals: c.approvals });
}

function check(c: Case) {
  const out = run(c);
  expect(gates(out)).toEqual(c.expected);
  for (const [id, name] of Object.entries(c.heldBy ?? {})) {
    const gate = out.actions.find((a) => a.id === id)?.gate;
    expect(gate).toMatchObject({ state: 'held', policy: name });
  }
}

describe('applyAutomation: one rule at a time', () => {
  const cases: Case[] = [
    {
      why: 'without Policies, changes run, but data loss waits for approval (the default)',
      policies: [],
      actions: [hot('VM/web01'), reboot('VM/web02'), deleteDisk('VM/web03')],
      expected: {
        'update:VM/web01': 'allowed',
        'update:VM/web02': 'allowed',
        'delete:VM/web03:disk-data': `destructive change needs approval: annotate xops.io/approve: ${approvalHash(deleteDisk('VM/web03'))} on VM/web03 or a Policy`,
      },
      heldBy: { 'delete:VM/web03:disk-data': '(default)' },
    },
    {
      why: 'drift: report holds drift corrections and names the Policy',
      policies: [p('observe-only', { drift: 'report' })],
      actions: [hot('VM/web01', { drift: true }), hot('VM/web02', { drift: false })],
      expected: {
        'update:VM/web01': 'drift is reported, not healed (policy observe-only)',
        // A change that comes from the manifests is not drift: reporting does not hold it.
        'update:VM/web02': 'allowed',
      },
    },
    {
      why: 'drift: heal lets drift corrections run',
      policies: [p('heal', { drift: 'heal' })],
      actions: [hot('VM/web01', { drift: true })],
      expected: { 'update:VM/web01': 'allowed' },
    },
    {
      why: 'prune off (default) keeps an object whose manifest is gone',
      policies: [p('no-approval', { approval: [] })],
      actions: [action('VM/old', { operation: 'delete', disruption: 'destructive' })],
      expected: { 'delete:VM/old': 'prune is off: VM/old has no manifest and is kept' },
      heldBy: { 'delete:VM/old': '(default)' },
    },
    {
      why: 'prune on deletes an object whose manifest is gone',
      policies: [p('prune', { prune: true, approval: [] })],
      actions: [action('VM/old', { operation: 'delete', disruption: 'destructive' })],
      expected: { 'delete:VM/old': 'allowed' },
    },
    {
      why: 'removing a disk from a manifest is not pruning: prune off does not hold it',
      policies: [p('no-approval', { approval: [] })],
      actions: [deleteDisk('VM/web01')],
      expected: { 'delete:VM/web01:disk-data': 'allowed' },
    },
    {
      why: 'adopt off holds taking over an unmanaged object',
      policies: [p('strict', { adopt: false })],
      actions: [action('VM/web01', { operation: 'adopt' })],
      expected: { 'adopt:VM/web01': 'adoption is off: VM/web01 stays unmanaged' },
      heldBy: { 'adopt:VM/web01': 'strict' },
    },
    {
      why: 'adopt on lets xops take it over',
      policies: [p('brownfield', { adopt: true })],
      actions: [action('VM/web01', { operation: 'adopt' })],
      expected: { 'adopt:VM/web01': 'allowed' },
    },
    {
      why: 'outside the window a reboot is held with the next opening; a hot change is never held by windows',
      policies: [p('nights', { windows: [nightly(['reboot'])] })],
      actions: [reboot('VM/web01'), hot('VM/web02')],
      expected: {
        'update:VM/web01': 'outside maintenance window; next opens at 2025-03-06T02:00:00.000Z',
        'update:VM/web02': 'allowed',
      },
      heldBy: { 'update:VM/web01': 'nights' },
    },
    {
      why: 'inside the window the reboot runs',
      policies: [p('nights', { windows: [nightly(['reboot'])] })],
      actions: [reboot('VM/web01')],
      now: NIGHT,
      expected: { 'update:VM/web01': 'allowed' },
    },
    {
      why: 'an open window that does not allow downtime does not let downtime through',
      policies: [p('nights', { windows: [nightly(['reboot'])] })],
      actions: [action('VM/web01', { disruption: 'downtime' })],
      now: NIGHT,
      expected: { 'update:VM/web01': 'no maintenance window allows downtime changes' },
    },
    {
      why: 'one Policy with two windows: either one open is enough, and the reason gives the earliest next opening',
      policies: [
        p('two', {
          windows: [
            { schedule: '0 2 * * 6', duration: 3600, allow: ['reboot'] },
            { schedule: '0 13 * * *', duration: 3600, allow: ['reboot'] },
          ],
        }),
      ],
      actions: [reboot('VM/web01')],
      expected: { 'update:VM/web01': 'outside maintenance window; next opens at 2025-03-05T13:00:00.000Z' },
    },
    {
      why: 'approval by the action hash on the resource manifest lets a destructive change run',
      policies: [],
      docs: [rawDoc('VM', 'web01', { annotations: { 'xops.io/approve': approvalHash(deleteDisk('VM/web01')) } })],
      actions: [deleteDisk('VM/web01')],
      expected: { 'delete:VM/web01:disk-data': 'allowed' },
    },
    {
      why: 'approval by hash on a Policy (the manifest of a pruned object is gone) works too',
      policies: [p('prune', { prune: true }, undefined, { 'xops.io/approve': `something-else, ${approvalHash(action('VM/old', { operation: 'delete', disruption: 'destructive' }))}` })],
      actions: [action('VM/old', { operation: 'delete', disruption: 'destructive' })],
      expected: { 'delete:VM/old': 'allowed' },
    },
    {
      why: 'an action id does not approve a destructive action: only the hash of the exact change does',
      policies: [p('prune', { prune: true }, undefined, { 'xops.io/approve': 'delete:VM/old' })],
      actions: [action('VM/old', { operation: 'delete', disruption: 'destructive' })],
      expected: { 'delete:VM/old': expect.stringMatching(/^destructive change needs approval/) as unknown as string },
    },
    {
      why: 'an approval found outside the manifests (context, e.g. a commit trailer) counts',
      policies: [],
      approvals: [approvalHash(deleteDisk('VM/web01'))],
      actions: [deleteDisk('VM/web01')],
      expected: { 'delete:VM/web01:disk-data': 'allowed' },
    },
    {
      why: 'an approval of a different change (stale hash) does not approve this one',
      policies: [],
      approvals: [approvalHash({ id: 'delete:VM/web01:disk-data', changes: [] })],
      actions: [deleteDisk('VM/web01')],
      expected: { 'delete:VM/web01:disk-data': expect.stringMatching(/^destructive change needs approval/) as unknown as string },
    },
    {
      why: 'a held approval names what will still hold the action once approved: the window (the demo policy allows only reboots)',
      policies: [p('prod', { approval: ['destructive'], windows: [nightly(['reboot'])] })],
      actions: [deleteDisk('VM/web01')],
      expected: {
        'delete:VM/web01:disk-data':
          `destructive change needs approval: annotate xops.io/approve: ${approvalHash(deleteDisk('VM/web01'))} on VM/web01 or a Policy; ` +
          'once approved it still waits: no maintenance window allows destructive changes (policy prod)',
      },
    },
    {
      why: 'approval for reboots, when a Policy asks for it, holds reboots that nobody approved',
      policies: [p('careful', { approval: ['reboot'] })],
      actions: [reboot('VM/web01')],
      expected: { 'update:VM/web01': expect.stringMatching(/^reboot change needs approval: annotate xops.io\/approve: [0-9a-f]{12} on VM\/web01/) as unknown as string },
      heldBy: { 'update:VM/web01': 'careful' },
    },
    {
      why: 'maxDisruptive 1: the first reboot in plan order runs, the others wait; hot changes do not count',
      policies: [p('budget', { maxDisruptive: 1 })],
      actions: [hot('VM/lab01'), reboot('VM/web01'), reboot('VM/web02'), reboot('VM/web03')],
      expected: {
        'update:VM/lab01': 'allowed',
        'update:VM/web01': 'allowed',
        'update:VM/web02': 'maxDisruptive 1 reached; runs in a later reconcile',
        'update:VM/web03': 'maxDisruptive 1 reached; runs in a later reconcile',
      },
    },
    {
      why: 'maxDisruptive 0 freezes every disruptive change',
      policies: [p('freeze', { maxDisruptive: 0 })],
      actions: [reboot('VM/web01'), hot('VM/web02')],
      expected: { 'update:VM/web01': 'maxDisruptive 0 reached; runs in a later reconcile', 'update:VM/web02': 'allowed' },
    },
    {
      why: 'an action that depends on a held action waits for it, naming the same Policy',
      policies: [p('nights', { windows: [nightly(['reboot'])] })],
      actions: [
        reboot('VM/web01'),
        hot('VM/web01', { id: 'power:VM/web01', operation: 'power', dependsOn: ['update:VM/web01'] }),
        hot('VM/web02', { dependsOn: ['power:VM/web01'] }),
        hot('VM/web03'),
      ],
      expected: {
        'update:VM/web01': 'outside maintenance window; next opens at 2025-03-06T02:00:00.000Z',
        'power:VM/web01': 'waits for update:VM/web01',
        // Transitively: it waits for the action it depends on directly.
        'update:VM/web02': 'waits for power:VM/web01',
        'update:VM/web03': 'allowed',
      },
      heldBy: { 'power:VM/web01': 'nights', 'update:VM/web02': 'nights' },
    },
  ];
  it.each(cases)('$why', (c) => check(c));
});

describe('applyAutomation: Policies combined', () => {
  const prod: Match = { labels: { env: 'prod' } };
  const cases: Case[] = [
    {
      why: 'scoping: the prod window holds prod reboots only; the lab VM reboots at once',
      policies: [p('prod-nights', { windows: [nightly(['reboot'])] }, prod)],
      actions: [reboot('VM/web01'), reboot('VM/lab01')],
      expected: {
        'update:VM/web01': 'outside maintenance window; next opens at 2025-03-06T02:00:00.000Z',
        'update:VM/lab01': 'allowed',
      },
    },
    {
      why: 'windows from two Policies: an open window in one does not excuse the closed other',
      policies: [
        p('always', { windows: [{ schedule: '0 0 * * *', duration: 86400, allow: ['reboot'] }] }),
        p('prod-nights', { windows: [nightly(['reboot'])] }, prod),
      ],
      actions: [reboot('VM/web01'), reboot('VM/lab01')],
      expected: {
        'update:VM/web01': 'outside maintenance window; next opens at 2025-03-06T02:00:00.000Z',
        'update:VM/lab01': 'allowed',
      },
      heldBy: { 'update:VM/web01': 'prod-nights' },
    },
    {
      why: 'report from one Policy beats heal from another',
      policies: [p('heal', { drift: 'heal' }), p('prod-report', { drift: 'report' }, prod)],
      actions: [hot('VM/web01', { drift: true }), hot('VM/lab01', { drift: true })],
      expected: { 'update:VM/web01': 'drift is reported, not healed (policy prod-report)', 'update:VM/lab01': 'allowed' },
    },
    {
      why: 'each Policy keeps its own budget: fleet allows 2, prod 1',
      policies: [p('fleet', { maxDisruptive: 2 }), p('prod', { maxDisruptive: 1 }, prod)],
      actions: [reboot('VM/web01'), reboot('VM/web02'), reboot('VM/lab01'), reboot('VM/web03')],
      expected: {
        'update:VM/web01': 'allowed',
        'update:VM/web02': 'maxDisruptive 1 reached; runs in a later reconcile',
        // The prod budget is spent but fleet still has one left for the lab VM.
        'update:VM/lab01': 'allowed',
        // Both budgets are spent now; the first in document order is named.
        'update:VM/web03': 'maxDisruptive 2 reached; runs in a later reconcile',
      },
      heldBy: { 'update:VM/web02': 'prod', 'update:VM/web03': 'fleet' },
    },
    {
      why: 'a reboot held by its window does not use up the budget: the next allowed reboot gets it',
      policies: [p('budget', { maxDisruptive: 1 }), p('prod-nights', { windows: [nightly(['reboot'])] }, prod)],
      actions: [reboot('VM/web01'), reboot('VM/lab01')],
      expected: {
        'update:VM/web01': 'outside maintenance window; next opens at 2025-03-06T02:00:00.000Z',
        'update:VM/lab01': 'allowed',
      },
    },
    {
      why: 'approval is asked before the window: the operator can approve ahead of the night',
      policies: [p('careful', { approval: ['reboot'], windows: [nightly(['reboot'])] })],
      actions: [reboot('VM/web01')],
      expected: { 'update:VM/web01': expect.stringMatching(/^reboot change needs approval/) as unknown as string },
    },
    {
      why: 'approved and inside the window: it runs',
      policies: [p('careful', { approval: ['reboot'], windows: [nightly(['reboot'])] })],
      approvals: ['update:VM/web01'],
      now: NIGHT,
      actions: [reboot('VM/web01')],
      expected: { 'update:VM/web01': 'allowed' },
    },
    {
      why: 'prune false from a kind-scoped Policy beats prune true from a general one',
      policies: [p('prune', { prune: true, approval: [] }), p('keep-vms', { prune: false }, { kinds: ['VM'] })],
      actions: [action('VM/old', { operation: 'delete', disruption: 'destructive' })],
      expected: { 'delete:VM/old': 'prune is off: VM/old has no manifest and is kept' },
      heldBy: { 'delete:VM/old': 'keep-vms' },
    },
    {
      why: 'an explicit empty approval list in one Policy does not cancel another Policy asking for approval',
      policies: [p('lab', { approval: [] }), p('prod-careful', { approval: ['destructive'] }, prod)],
      actions: [deleteDisk('VM/web01'), deleteDisk('VM/lab01')],
      expected: {
        'delete:VM/web01:disk-data': expect.stringMatching(/^destructive change needs approval/) as unknown as string,
        'delete:VM/lab01:disk-data': 'allowed',
      },
    },
  ];
  it.each(cases)('$why', (c) => check(c));
});

describe('applyAutomation: snapshotBefore', () => {
  const state = desired([p('snap', { snapshotBefore: ['reboot', 'destructive'], approval: [] })], manifests);
  const cases: { why: string; action: Action; expected: boolean }[] = [
    { why: 'a listed disruption on an existing VM is snapshotted first', action: reboot('VM/web01'), expected: true },
    { why: 'a destructive change is the classic case', action: deleteDisk('VM/web01'), expected: true },
    { why: 'a disruption the Policy does not list is not', action: action('VM/web01', { disruption: 'downtime' }), expected: false },
    { why: 'a hot change is never snapshotted', action: hot('VM/web01'), expected: false },
    { why: 'a VM being created has nothing to snapshot', action: action('VM/new', { operation: 'create', disruption: 'reboot' }), expected: false },
    { why: 'only VMs are snapshotted (an SR has no snapshot)', action: action('SR/data', { disruption: 'destructive' }), expected: false },
  ];
  it.each(cases)('$why', ({ action: a, expected }) => {
    const out = applyAutomation(plan([a]), state, { now: NOON });
    expect(out.actions[0].snapshotBefore === true).toBe(expected);
  });

  it('a held action still carries the mark, so the plan shows what will happen when it runs', () => {
    const held = desired([p('snap', { snapshotBefore: ['reboot'], windows: [nightly(['reboot'])] })], manifests);
    const [out] = applyAutomation(plan([reboot('VM/web01')]), held, { now: NOON }).actions;
    expect(out).toMatchObject({ gate: { state: 'held' }, snapshotBefore: true });
  });
});

describe('applyAutomation over several reconciles', () => {
  it('maxDisruptive 1 spreads three reboots over three reconciles, in plan order', () => {
    const state = desired([p('budget', { maxDisruptive: 1 })], manifests);
    let pending = [reboot('VM/web01'), reboot('VM/web02'), reboot('VM/web03')];
    const ranPerReconcile: string[][] = [];
    // Each reconcile plans what is still pending and "applies" what automation allows.
    while (pending.length > 0 && ranPerReconcile.length < 5) {
      const out = applyAutomation(plan(pending), state, { now: NOON });
      const ran = out.actions.filter((a) => a.gate.state === 'allowed').map((a) => a.id);
      ranPerReconcile.push(ran);
      pending = pending.filter((a) => !ran.includes(a.id));
    }
    expect(ranPerReconcile).toEqual([['update:VM/web01'], ['update:VM/web02'], ['update:VM/web03']]);
  });

  it('the same saved plan re-run with a later clock releases what the window held (gates are recomputed)', () => {
    const state = desired([p('nights', { windows: [nightly(['reboot'])] })], manifests);
    const atNoon = applyAutomation(plan([reboot('VM/web01')]), state, { now: NOON });
    expect(atNoon.actions[0].gate.state).toBe('held');
    const atNight = applyAutomation(atNoon, state, { now: NIGHT });
    expect(atNight.actions[0].gate).toEqual({ state: 'allowed' });
    // And closed again after the window's two hours.
    const after = applyAutomation(atNight, state, { now: new Date('2025-03-06T04:00:00.000Z') });
    expect(after.actions[0].gate).toMatchObject({ reason: 'outside maintenance window; next opens at 2025-03-07T02:00:00.000Z' });
  });

  it('does not modify the plan it is given', () => {
    const input = plan([reboot('VM/web01'), deleteDisk('VM/web02')]);
    const before = structuredClone(input);
    applyAutomation(input, desired([p('snap', { snapshotBefore: ['reboot'], maxDisruptive: 0 })], manifests), { now: NOON });
    expect(input).toEqual(before);
  });

  it('a window with a broken schedule holds what it guards instead of letting it through', () => {
    const state = desired([p('broken', { windows: [{ schedule: 'every night', duration: 60, allow: ['reboot'] }] })], manifests);
    const [out] = applyAutomation(plan([reboot('VM/web01')]), state, { now: NOON }).actions;
    expect(out.gate).toMatchObject({ state: 'held', policy: 'broken', reason: expect.stringContaining('is invalid') });
  });
});
