import { describe, expect, it } from 'vitest';
import { planChanges } from '../../src/plan/index.js';
import { applyAutomation } from '../../src/policy/automation.js';
import { OPERATOR_LIMITS } from '../../src/policy/settings.js';
import { addVM, addVlanNetwork, basePool, desiredState, live, vm } from '../plan/world.js';

const eth0 = 'Pool-wide network associated with eth0';

describe('deleting a network', () => {
  it('is destructive, so a commit that drops a network manifest cannot cut VMs off unless the operator allows destructive changes', () => {
    const b = basePool();
    const lan = addVlanNetwork(b, 'lan', 10);
    addVM(b, { name: 'web01', vifs: [{ network: lan }] });
    const desired = desiredState({ vms: [vm('web01', { networks: [{ network: live(eth0) }] })] });
    const plan = planChanges(desired, b.world.state, { now: new Date('2025-01-01T00:00:00Z'), prune: true });
    const del = plan.actions.find((a) => a.id === 'delete:Network/lan');
    expect(del?.disruption).toBe('destructive');

    const gated = applyAutomation(plan, desired, { now: new Date('2025-01-01T00:00:00Z'), limits: { adopt: false, prune: true, destructive: false } });
    const gate = gated.actions.find((a) => a.id === 'delete:Network/lan')?.gate;
    expect(gate).toMatchObject({ state: 'held', policy: OPERATOR_LIMITS });
  });
});
