import { defaultConfig } from '../../src/config/index.js';
/**
 * A resource an admission rule denies gets no actions in the plan, nor do actions waiting on one of
 * its actions; the rest of the plan is unchanged (gatedPlan, which every command shares).
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/model/diagnostics.js';
import { gatedPlan } from '../../src/plan/pipeline.js';
import { basePool, desiredState, manifestRef, network, vm } from './world.js';

const denial = (address: string): Diagnostic => ({ severity: 'error', code: 'admission', message: 'every VM needs an owner label (Policy/p rule owner)', address });
const now = new Date('2025-01-01T00:00:00Z');

describe('denied resources', () => {
  it('have no actions; the others keep theirs', () => {
    const b = basePool();
    const plan = gatedPlan(desiredState({ vms: [vm('web01'), vm('web02')] }), b.world.state, [denial('VM/web01')], { now, limits: defaultConfig().limits });
    expect(plan.actions.map((a) => a.id)).toEqual(['create:VM/web02']);
    expect(plan.diagnostics).toEqual([denial('VM/web01')]);
  });

  it('take the actions that wait on theirs with them', () => {
    const b = basePool();
    const desired = desiredState({
      networks: [network('lan', { vlan: { tag: 10, device: 'eth0' } })],
      vms: [vm('web01', { networks: [{ network: manifestRef('lan') }] }), vm('web02')],
    });
    expect(gatedPlan(desired, b.world.state, [], { now, limits: defaultConfig().limits }).actions.map((a) => a.id)).toEqual(['create:Network/lan', 'create:VM/web01', 'create:VM/web02']);
    expect(gatedPlan(desired, b.world.state, [denial('Network/lan')], { now, limits: defaultConfig().limits }).actions.map((a) => a.id)).toEqual(['create:VM/web02']);
  });

  it('a warning rule denies nothing', () => {
    const b = basePool();
    const plan = gatedPlan(desiredState({ vms: [vm('web01')] }), b.world.state, [{ ...denial('VM/web01'), severity: 'warning' }], { now, limits: defaultConfig().limits });
    expect(plan.actions.map((a) => a.id)).toEqual(['create:VM/web01']);
  });
});
