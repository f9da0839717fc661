import type { ActionResult } from '../apply/executor.js';
import type { Plan } from '../model/plan.js';
import { APPROVE_ANNOTATION } from '../policy/approval.js';
import { driftReports } from './drift.js';
import type { AppliedAction, HeldAction, ReconcileOutcome } from './types.js';

/** The policy name shown for destructive actions the controller refuses without an approval policy. */
export const NO_APPROVAL_POLICY = '(no approval policy)';

const DESTRUCTIVE_REASON =
  `destructive changes run only under a Policy with approval: [destructive], once approved with ${APPROVE_ANNOTATION}`;

/** Not started because the controller is shutting down: neither applied nor failed, still pending. */
function interrupted(r: ActionResult): boolean {
  return r.interrupted === true;
}

/**
 * Why each action that did not run was left out, following dependencies in plan order (a dependency
 * always comes first): a failure upstream, the shutdown, or a refusal (held or not approved).
 */
function skipCauses(plan: Plan, byId: ReadonlyMap<string, ActionResult>): Map<string, 'failure' | 'interrupted' | 'refused'> {
  const causes = new Map<string, 'failure' | 'interrupted' | 'refused'>();
  for (const action of plan.actions) {
    const r = byId.get(action.id);
    if (!r || r.state === 'succeeded') continue;
    if (r.state === 'failed' || interrupted(r)) {
      causes.set(action.id, interrupted(r) ? 'interrupted' : 'failure');
      continue;
    }
    const upstream = action.dependsOn.map((d) => causes.get(d));
    causes.set(action.id, upstream.includes('failure') ? 'failure' : upstream.includes('interrupted') ? 'interrupted' : 'refused');
  }
  return causes;
}

/**
 * A reconcile's outcome from its plan and what apply did with it:
 * - `applied`: actions that ran (succeeded or failed), not those interrupted before they started;
 * - `held`: actions a Policy gate held, and destructive actions apply refused because no Policy asks
 *   for approval of them (an unattended controller never deletes data on its own say-so), plus what
 *   only waits on those;
 * - `drift`: see `driftReports`;
 * - `ok` false with one `error` line when an action failed, the run was interrupted, or the plan
 *   refused a change (`plan.refused`: each refused resource shows as `refused` in /status).
 */
export function reconcileOutcome(plan: Plan, results: readonly ActionResult[], resources: string[]): ReconcileOutcome {
  const byId = new Map(results.map((r) => [r.action.id, r]));
  const applied: AppliedAction[] = [];
  const held: HeldAction[] = [];
  const failures: string[] = [];
  let wasInterrupted = false;
  const causes = skipCauses(plan, byId);
  for (const action of plan.actions) {
    const r = byId.get(action.id);
    const base = { id: action.id, address: action.address, disruption: action.disruption };
    if (action.gate.state === 'held') {
      held.push({ ...base, policy: action.gate.policy, reason: action.gate.reason, ...(action.gate.releasesAt ? { releasesAt: action.gate.releasesAt } : {}) });
      continue;
    }
    if (!r) continue;
    if (interrupted(r)) {
      wasInterrupted = true;
      continue;
    }
    if (r.state === 'succeeded' || r.state === 'failed') {
      applied.push({ ...base, ok: r.state === 'succeeded', ...(r.reason ? { error: r.reason } : {}), ...(r.ms !== undefined ? { durationMs: Math.round(r.ms) } : {}) });
      if (r.state === 'failed') failures.push(`${action.id}: ${r.reason ?? 'failed'}`);
      continue;
    }
    // Skipped (or held) by apply itself: refused as destructive, or waiting on something that did not run.
    const cause = causes.get(action.id);
    if (cause === 'failure') continue; // the failure is the news
    if (cause === 'interrupted') {
      wasInterrupted = true;
      continue;
    }
    held.push({ ...base, policy: r.heldBy ?? NO_APPROVAL_POLICY, reason: r.reason?.startsWith('destructive') ? DESTRUCTIVE_REASON : (r.reason ?? 'not run') });
  }
  const errors = [...failures];
  if (wasInterrupted) errors.push('interrupted by shutdown before every action ran');
  // A refused change leaves Git and the pool disagreeing: the reconcile did not succeed.
  const refusals = plan.refused.map((r) => `${r.address} ${r.path}: ${r.reason}`);
  const refusedLine = refusals.length > 0 ? `${refusals.length} change(s) refused: ${refusals.slice(0, 3).join('; ')}${refusals.length > 3 ? '; …' : ''}` : undefined;
  const error = errors.length > 0 ? (failures.length > 0 ? `${failures.length} action(s) failed: ${errors.join('; ')}` : errors[0]) : undefined;
  const message = [error, refusedLine].filter((m): m is string => m !== undefined).join('; ');
  return {
    ok: message === '',
    plan,
    applied,
    held,
    drift: driftReports(plan, results),
    resources,
    ...(message ? { error: message } : {}),
  };
}
