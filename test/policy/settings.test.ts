import { describe, expect, it } from 'vitest';
import type { AutomationSettings, Match } from '../../src/model/desired.js';
import { matches } from '../../src/policy/match.js';
import { AUTOMATION_DEFAULTS, DEFAULT_POLICY_NAME, effectiveSettings } from '../../src/policy/settings.js';
import { desired, policy, rawDoc } from './helpers.js';

describe('matches', () => {
  const web = { kind: 'VM', name: 'web-01', labels: { env: 'prod', tier: 'web' } };
  const cases: { why: string; match: Match | undefined; expected: boolean }[] = [
    { why: 'no selector selects everything', match: undefined, expected: true },
    { why: 'empty lists select everything', match: { kinds: [], names: [], labels: {} }, expected: true },
    { why: 'kind listed', match: { kinds: ['SR', 'VM'] }, expected: true },
    { why: 'kind not listed', match: { kinds: ['SR'] }, expected: false },
    { why: 'kinds are exact: lower case is another kind', match: { kinds: ['vm'] }, expected: false },
    { why: '* matches any run of characters', match: { names: ['web-*'] }, expected: true },
    { why: '? matches exactly one character', match: { names: ['web-0?'] }, expected: true },
    { why: 'a glob must match the whole name, not a part', match: { names: ['web'] }, expected: false },
    { why: 'regex characters in a glob are literal', match: { names: ['web.01'] }, expected: false },
    { why: 'any one of several names is enough', match: { names: ['db-*', 'web-01'] }, expected: true },
    { why: 'every label must be present with its value', match: { labels: { env: 'prod', tier: 'web' } }, expected: true },
    { why: 'one label with another value is a miss', match: { labels: { env: 'staging' } }, expected: false },
    { why: 'a label the resource lacks is a miss', match: { labels: { team: 'ops' } }, expected: false },
    { why: 'criteria combine with AND', match: { kinds: ['VM'], names: ['db-*'], labels: { env: 'prod' } }, expected: false },
  ];
  it.each(cases)('$why', ({ match, expected }) => {
    expect(matches(match, web)).toBe(expected);
  });
});

describe('effectiveSettings', () => {
  const prodVM = rawDoc('VM', 'web01', { labels: { env: 'prod' } });
  const stagingVM = rawDoc('VM', 'web02', { labels: { env: 'staging' } });
  const prod: Match = { labels: { env: 'prod' } };
  const p = (name: string, automation: AutomationSettings, match?: Match) =>
    policy(name, match ? { match, automation } : { automation });

  it('with no Policy the conservative defaults apply, decided by "(default)"', () => {
    const s = effectiveSettings(desired([], [prodVM]), 'VM/web01');
    expect(s).toMatchObject({
      drift: AUTOMATION_DEFAULTS.drift,
      prune: false,
      adopt: false,
      approval: ['destructive'],
      snapshotBefore: [],
      windows: [],
      budgets: [],
      policies: [],
    });
    expect(s.maxDisruptive).toBeUndefined();
    expect(s.decidedBy.approval.destructive).toBe(DEFAULT_POLICY_NAME);
  });

  const cases: {
    why: string;
    policies: ReturnType<typeof p>[];
    address?: string;
    expected: Record<string, unknown>;
  }[] = [
    {
      why: 'report beats heal, whatever the order',
      policies: [p('a', { drift: 'heal' }), p('b', { drift: 'report' }), p('c', { drift: 'heal' })],
      expected: { drift: 'report', decidedBy: expect.objectContaining({ drift: 'b' }) },
    },
    {
      why: 'prune false beats prune true',
      policies: [p('allow', { prune: true }), p('protect', { prune: false }, prod)],
      expected: { prune: false, decidedBy: expect.objectContaining({ prune: 'protect' }) },
    },
    {
      why: 'prune true when every Policy that sets it says true',
      policies: [p('a', { prune: true }), p('b', { drift: 'heal' })],
      expected: { prune: true, decidedBy: expect.objectContaining({ prune: 'a' }) },
    },
    {
      why: 'adopt false beats adopt true',
      policies: [p('a', { adopt: true }), p('b', { adopt: false })],
      expected: { adopt: false, decidedBy: expect.objectContaining({ adopt: 'b' }) },
    },
    {
      why: 'a Policy scoped elsewhere does not restrict this resource',
      policies: [p('a', { prune: true }), p('staging-only', { prune: false }, { labels: { env: 'staging' } })],
      expected: { prune: true, policies: ['a'] },
    },
    {
      why: 'the smallest maxDisruptive is reported, and each Policy keeps its own budget',
      policies: [p('fleet', { maxDisruptive: 5 }), p('prod', { maxDisruptive: 1 }, prod)],
      expected: {
        maxDisruptive: 1,
        budgets: [
          { policy: 'fleet', maxDisruptive: 5 },
          { policy: 'prod', maxDisruptive: 1 },
        ],
      },
    },
    {
      why: 'approval lists are united; the first Policy to ask for a class is named',
      policies: [p('a', { approval: ['downtime'] }), p('b', { approval: ['destructive', 'downtime'] })],
      expected: { approval: ['downtime', 'destructive'], decidedBy: expect.objectContaining({ approval: { downtime: 'a', destructive: 'b' } }) },
    },
    {
      why: 'an explicit empty approval list replaces the default (destructive needs no approval here)',
      policies: [p('lab', { approval: [] })],
      expected: { approval: [] },
    },
    {
      why: 'snapshotBefore lists are united',
      policies: [p('a', { snapshotBefore: ['reboot'] }), p('b', { snapshotBefore: ['downtime'] })],
      expected: { snapshotBefore: ['reboot', 'downtime'] },
    },
    {
      why: 'each Policy with windows forms its own group; a Policy with an empty list adds none',
      policies: [
        p('a', { windows: [{ schedule: '0 2 * * *', duration: 3600, allow: ['reboot'] }] }),
        p('b', { windows: [] }),
        p('c', { windows: [{ schedule: '0 3 * * 6', duration: 3600, allow: ['downtime'] }] }),
      ],
      expected: { windows: [expect.objectContaining({ policy: 'a' }), expect.objectContaining({ policy: 'c' })] },
    },
    {
      why: 'a resource with no manifest (prune candidate) has no labels, so label-scoped Policies do not select it',
      policies: [p('all', { prune: true }), p('prod', { prune: false }, prod)],
      address: 'VM/gone',
      expected: { prune: true, policies: ['all'] },
    },
    {
      why: 'kind- and name-scoped Policies still select a resource with no manifest',
      policies: [p('all', { prune: true }), p('keep-srs', { prune: false }, { kinds: ['SR'] })],
      address: 'SR/old-nfs',
      expected: { prune: false, policies: ['all', 'keep-srs'] },
    },
  ];
  it.each(cases)('$why', ({ policies, address, expected }) => {
    expect(effectiveSettings(desired(policies, [prodVM, stagingVM]), address ?? 'VM/web01')).toMatchObject(expected);
  });

  it('labels the caller knows select label-scoped Policies for a resource with no manifest', () => {
    const state = desired([p('prod', { prune: false }, prod), p('all', { prune: true })]);
    expect(effectiveSettings(state, 'VM/gone', { env: 'prod' }).prune).toBe(false);
  });
});
