import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/model/plan.js';
import { planChanges } from '../../src/plan/index.js';
import { planDigest, savedPlanIntegrity, savedPlanProblems, savedPlanText } from '../../src/plan/saved-plan.js';
import { addVM, basePool, desiredState, mark, vm } from '../plan/world.js';

const NOW = new Date('2025-01-01T00:00:00Z');

/** A pool with the managed VM web01 at 1 vCPU and a plan (made, saved, read back) raising it to 2. */
function savedUpdate() {
  const b = basePool();
  const ref = addVM(b, { name: 'web01', vcpus: 1, vcpusMax: 4 });
  const plan = planChanges(desiredState({ vms: [vm('web01', { vcpus: 2, vcpusMax: 4 })] }), b.world.state, { now: NOW });
  expect(plan.actions.map((a) => a.id)).toEqual(['update:VM/web01']);
  return { b, ref, saved: JSON.parse(savedPlanText(plan)) as Plan };
}

describe('apply --plan with a saved plan someone may have edited', () => {
  it('accepts the plan as saved, and refuses one edited after saving or carrying no digest', () => {
    const { saved } = savedUpdate();
    expect(savedPlanIntegrity(saved)).toBeUndefined();
    const edited = structuredClone(saved);
    edited.actions[0]!.changes[0]!.to = 64;
    expect(savedPlanIntegrity(edited)).toBe('its content does not match its digest: it was changed after it was saved');
    const { digest: _d, ...bare } = saved as Plan & { digest: string };
    expect(savedPlanIntegrity(bare as Plan)).toBe("it carries no digest (save it again with 'xops plan --save')");
  });

  it('refuses a plan with an empty observed identity, which no staleness check could catch, even with a matching digest', () => {
    const { saved } = savedUpdate();
    const forged: Plan = { ...saved, observed: { token: '', objects: {} } };
    (forged as Plan & { digest: string }).digest = planDigest(forged);
    expect(savedPlanIntegrity(forged)).toBe('its observed identity is empty: nothing ties it to the pool it was made against');
  });

  it('refuses at apply time an object the operator protects now, though the plan was made before', () => {
    const { b, saved } = savedUpdate();
    expect(savedPlanProblems(saved, b.world.state, { protected: [] })).toEqual([]);
    const problems = savedPlanProblems(saved, b.world.state, { protected: [{ name: 'web01', class: 'VM' }] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^VM\/web01: VM 'web01' \([^)]+\) is protected: it is listed under protected in the operator's configuration/);
  });

  it('refuses a plan whose VM lost its mark, carries another resource\'s mark, or belongs to another repository', () => {
    const { b, ref, saved } = savedUpdate();
    const uuid = b.world.uuid('VM', ref);
    b.world.set('VM', ref, { other_config: {} });
    expect(savedPlanProblems(saved, b.world.state, { protected: [] })).toEqual([`VM/web01: VM ${uuid} is not marked as managed by xops, not VM/web01`]);
    b.world.set('VM', ref, { other_config: mark('VM/db01') });
    expect(savedPlanProblems(saved, b.world.state, { protected: [] })).toEqual([`VM/web01: VM ${uuid} is marked VM/db01, not VM/web01`]);
    b.world.set('VM', ref, { other_config: mark('VM/web01', { repo: 'git@example.com:other.git' }) });
    expect(savedPlanProblems(saved, b.world.state, { protected: [], repo: 'git@example.com:ours.git' })).toEqual([
      `VM/web01: VM ${uuid} belongs to repository git@example.com:other.git, not git@example.com:ours.git`,
    ]);
  });

  it('refuses a built-in protected object (a template) named in a hand-written plan', () => {
    const { b, saved } = savedUpdate();
    const template = b.world.get('VM', b.debian);
    const forged = structuredClone(saved);
    forged.actions[0]!.objects[0] = { cls: 'VM', ref: b.debian, uuid: template.uuid };
    const problems = savedPlanProblems(forged, b.world.state, { protected: [] });
    expect(problems.some((p) => /is protected: /.test(p))).toBe(true);
  });
});
