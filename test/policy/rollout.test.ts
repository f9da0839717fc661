/** How automation cuts a Policy's rolling change into batches: table-driven, each case says why it exists. */
import { describe, expect, it } from 'vitest';
import type { Action } from '../../src/model/plan.js';
import { applyAutomation } from '../../src/policy/automation.js';
import { batchSize, rolloutBatches } from '../../src/policy/rollout.js';
import { action, desired, plan, policy, rawDoc } from './helpers.js';

const NOON = new Date('2025-03-05T12:00:00.000Z');
const web = (n: number) => rawDoc('VM', `web${n}`, { labels: { tier: 'web' } });
const docs = [1, 2, 3, 4, 5].map(web).concat(rawDoc('VM', 'db1', { labels: { tier: 'db' } }));
const reboot = (name: string, extra: Parameters<typeof action>[1] = {}) =>
  action(`VM/${name}`, { disruption: 'reboot', changes: [{ path: 'spec.memory', from: 1, to: 2, disruption: 'reboot' }], ...extra });
const rollout = (maxUnavailable: number | `${number}%`, more: object = {}) =>
  policy('web-roll', { match: { labels: { tier: 'web' } }, automation: { rollout: { maxUnavailable, healthyAfter: 60 }, ...more } });

/** `name: batch/batches` for each action a rollout paces. */
function batches(actions: Action[]): Record<string, string> {
  return Object.fromEntries(actions.filter((a) => a.rollout).map((a) => [a.name, `${a.rollout!.batch}/${a.rollout!.batches}`]));
}

describe('rollout batches', () => {
  it.each([
    { why: 'a count cuts the paced VMs in plan order', max: 2 as const, expected: { web1: '1/3', web2: '1/3', web3: '2/3', web4: '2/3', web5: '3/3' } },
    { why: 'a percentage is of the whole set (5 web VMs), rounded down: 40% is 2', max: '40%' as const, expected: { web1: '1/3', web2: '1/3', web3: '2/3', web4: '2/3', web5: '3/3' } },
    { why: 'a percentage below one VM still moves one at a time', max: '10%' as const, expected: { web1: '1/5', web2: '2/5', web3: '3/5', web4: '4/5', web5: '5/5' } },
    { why: 'a batch as large as the set is one batch', max: '100%' as const, expected: { web1: '1/1', web2: '1/1', web3: '1/1', web4: '1/1', web5: '1/1' } },
  ])('$why', ({ max, expected }) => {
    const out = applyAutomation(plan(['web1', 'web2', 'web3', 'web4', 'web5'].map((n) => reboot(n))), desired([rollout(max)], docs), { now: NOON });
    expect(batches(out.actions)).toEqual(expected);
  });

  it('paces only allowed reboots of the selected VMs: not live changes, creates, other VMs, or what another rule holds', () => {
    const out = applyAutomation(
      plan([
        reboot('web1'),
        action('VM/web2', { disruption: 'none' }),
        reboot('web3', { operation: 'create' }),
        reboot('db1'),
        reboot('web4'),
        reboot('web5'),
      ]),
      desired([rollout(1, { maxDisruptive: 3 })], docs),
      { now: NOON },
    );
    // The Policy's budget of 3 goes to web1, web3's create and web4; web5 waits for a later reconcile, outside any batch.
    expect(out.actions.find((a) => a.name === 'web5')!.gate).toMatchObject({ state: 'held', reason: expect.stringContaining('maxDisruptive') });
    expect(batches(out.actions)).toEqual({ web1: '1/2', web4: '2/2' });
  });

  it('keeps every paced action of one VM in the same batch', () => {
    const out = applyAutomation(plan([reboot('web1'), reboot('web1', { id: 'update:VM/web1:disks' }), reboot('web2')]), desired([rollout(1)], docs), { now: NOON });
    expect(out.actions.map((a) => `${a.id} ${a.rollout?.batch}`)).toEqual(['update:VM/web1 1', 'update:VM/web1:disks 1', 'update:VM/web2 2']);
    expect(rolloutBatches(out.actions).map((b) => `${b.batch}: ${b.names.join(', ')}`)).toEqual(['1: web1', '2: web2']);
  });

  it('relabels a saved plan from scratch: a rollout removed from the Policies leaves no batches behind', () => {
    const once = applyAutomation(plan([reboot('web1'), reboot('web2')]), desired([rollout(1)], docs), { now: NOON });
    expect(batches(once.actions)).toEqual({ web1: '1/2', web2: '2/2' });
    const again = applyAutomation(once, desired([], docs), { now: NOON });
    expect(again.actions.some((a) => a.rollout !== undefined)).toBe(false);
  });

  it('counts VMs of the set that are down now against maxUnavailable, and holds the rollout when none is left', () => {
    const actions = () => [reboot('web1'), reboot('web2'), reboot('web3'), action('VMGroup/spread', { dependsOn: ['update:VM/web3'] })];
    const one = new Map([['VM/web4', 'is halted, its manifest wants it running']]);
    const smaller = applyAutomation(plan(actions()), desired([rollout(2)], docs), { now: NOON, unavailable: one });
    expect(batches(smaller.actions)).toEqual({ web1: '1/3', web2: '2/3', web3: '3/3' });

    const two = new Map([...one, ['VM/web5', 'runs, but its guest agent does not report']]);
    const held = applyAutomation(plan(actions()), desired([rollout(2)], docs), { now: NOON, unavailable: two });
    expect(batches(held.actions)).toEqual({});
    expect(held.actions[0]!.gate).toEqual({
      state: 'held', policy: 'web-roll',
      reason: 'rollout waits: 2 VM(s) of its set are unavailable, which uses up maxUnavailable 2 (VM/web4 is halted, its manifest wants it running; VM/web5 runs, but its guest agent does not report); it goes on once they are healthy again',
    });
    expect(held.actions[3]!.gate).toMatchObject({ state: 'held', policy: 'web-roll', reason: 'waits for update:VM/web3' });
    // A VM that is down but changes in this rollout is not counted twice: its own batch restarts it.
    const self = applyAutomation(plan(actions()), desired([rollout(2)], docs), { now: NOON, unavailable: new Map([['VM/web1', 'is halted']]) });
    expect(batches(self.actions)).toEqual({ web1: '1/2', web2: '1/2', web3: '2/2' });
  });

  it('batchSize never gives less than one VM', () => {
    expect([batchSize(0, 10), batchSize('1%', 3), batchSize('50%', 0), batchSize(3, 2)]).toEqual([1, 1, 1, 3]);
  });
});
