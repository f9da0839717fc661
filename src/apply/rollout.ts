/**
 * Pacing a rolling change at apply time. The plan labels each paced action with its batch
 * (`action.rollout`, src/policy/rollout.ts); here every batch after the first waits for a barrier that
 * stands for the whole batch before it: the barrier's dependencies are that batch's actions (they must
 * succeed, and their VMs be healthy for `healthyAfter`). The scheduler then holds the later batches on the
 * first failure, like any failed dependency; this module words that as a halted rollout. One barrier per
 * batch keeps the dependency edges linear in the number of actions, whatever the batch size.
 */
import type { Action } from '../model/plan.js';

/** Id prefix of the barrier jobs; never an action id (those start with an operation). */
const BARRIER = 'rollout-barrier:';

/** A barrier: done once every action of one batch of one rollout is. */
export interface RolloutBarrier {
  id: string;
  dependsOn: string[];
}

/** The barriers to schedule, and for each paced action after the first batch, the barrier it waits for. */
export interface RolloutPacing {
  barriers: RolloutBarrier[];
  waitsFor: Map<string, string>;
}

/** Barriers and waits for every rollout in `actions` (plan order). */
export function rolloutPacing(actions: readonly Action[]): RolloutPacing {
  const barriers = new Map<string, RolloutBarrier>();
  const key = (policy: string, batch: number) => `${BARRIER}${policy}:batch-${batch}`;
  for (const a of actions) {
    if (!a.rollout) continue;
    const id = key(a.rollout.policy, a.rollout.batch);
    let barrier = barriers.get(id);
    if (!barrier) {
      barrier = { id, dependsOn: [] };
      barriers.set(id, barrier);
    }
    barrier.dependsOn.push(a.id);
  }
  const waitsFor = new Map<string, string>();
  for (const a of actions) {
    if (!a.rollout || a.rollout.batch <= 1) continue;
    const previous = key(a.rollout.policy, a.rollout.batch - 1);
    if (barriers.has(previous)) waitsFor.set(a.id, previous);
  }
  return { barriers: [...barriers.values()], waitsFor };
}

/**
 * What halted each rollout: the first paced action that failed (or did not run), in the order apply
 * learnt of it. Later batches are held with this reason, in the apply output and in /status.
 */
export class RolloutHalts {
  private readonly halts = new Map<string, string>();

  /** Records `action`'s failure as the halt of its rollout, unless one is already recorded. */
  failed(action: Action, why: string): void {
    if (!action.rollout || this.halts.has(action.rollout.policy)) return;
    const r = action.rollout;
    this.halts.set(r.policy, `rollout of policy ${r.policy} halted at batch ${r.batch} of ${r.batches}: ${action.address} ${why}`);
  }

  /** Why an action of a halted rollout did not run; undefined when its rollout did not halt. */
  reasonFor(action: Action): string | undefined {
    if (!action.rollout) return undefined;
    const halt = this.halts.get(action.rollout.policy);
    return halt === undefined ? undefined : `${halt}; batch ${action.rollout.batch} of ${action.rollout.batches} is held until the next reconcile`;
  }
}
