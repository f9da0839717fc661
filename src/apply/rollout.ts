/**
 * Pacing a rolling change at apply time. The plan labels each paced action with its batch
 * (`action.rollout`, src/policy/rollout.ts); here every action of batch k waits for every action of
 * batch k-1 of the same rollout (they must succeed, and their VMs be healthy for `healthyAfter`). The
 * scheduler then holds the later batches on the first failure, like any failed dependency; this module
 * words that as a halted rollout.
 */
import type { Action } from '../model/plan.js';

/** For each action of a batch after the first, the ids of the previous batch it waits for. */
export function rolloutDependencies(actions: readonly Action[]): Map<string, string[]> {
  const byBatch = new Map<string, string[]>();
  const key = (policy: string, batch: number) => `${policy}\u0000${batch}`;
  for (const a of actions) {
    if (!a.rollout) continue;
    const k = key(a.rollout.policy, a.rollout.batch);
    byBatch.set(k, [...(byBatch.get(k) ?? []), a.id]);
  }
  const out = new Map<string, string[]>();
  for (const a of actions) {
    if (!a.rollout || a.rollout.batch <= 1) continue;
    const previous = byBatch.get(key(a.rollout.policy, a.rollout.batch - 1));
    if (previous) out.set(a.id, previous);
  }
  return out;
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
