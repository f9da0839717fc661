import { describe, expect, it } from 'vitest';
import type { Action, Plan } from '../../src/model/plan.js';
import { reconcileProgress } from '../../src/cli/reconcile-progress.js';

function action(id: string, held = false): Action {
  return {
    id,
    address: id.slice(id.indexOf(':') + 1),
    operation: 'create',
    disruption: 'none',
    reason: 'new',
    changes: [],
    dependsOn: [],
    gate: held ? { state: 'held', policy: 'p', reason: 'window' } : { state: 'allowed' },
  } as unknown as Action;
}

function plan(actions: Action[]): Plan {
  return { actions } as unknown as Plan;
}

describe("the controller's live progress on a terminal", () => {
  it('draws nothing for a reconcile that runs nothing, and the apply block (held actions not counted) when one does', () => {
    const written: string[] = [];
    const progress = reconcileProgress({ write: (t: string) => written.push(t), columns: 100 });
    progress.planned(plan([action('create:VM/a', true)]));
    progress.done();
    expect(written).toEqual([]);

    const a = action('create:VM/a');
    progress.planned(plan([a, action('create:VM/b'), action('create:VM/c', true)]));
    progress.listener.started?.(a, 1);
    progress.listener.finished?.({ action: a, state: 'succeeded', ms: 5 });
    progress.done();
    expect(written.at(-1)).toMatch(/apply: 1\/2 done, 0 running, 1 waiting\n$/);
  });
});
