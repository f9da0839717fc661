import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Action, Plan } from '../model/plan.js';
import { applyAutomation } from '../policy/automation.js';
import { unavailableVMs } from '../policy/rollout.js';
import type { OperatorLimits } from '../policy/settings.js';
import type { ProtectedSelector } from '../config/types.js';
import { planChanges, planChangesYielding, type PlanOptions } from './index.js';
import type { PlanMemo } from './memo.js';

/** What gatedPlan is told besides the states and the diagnostics so far. */
export interface GatedPlanOptions {
  now: Date; repo?: string; limits: OperatorLimits; approvals?: readonly string[]; annotationCounts?: (hash: string) => boolean;
  protected?: readonly ProtectedSelector[]; changedCredentials?: ReadonlySet<string>;
  /** See PlanOptions.memo. */
  memo?: PlanMemo;
  /** See PlanOptions.objects. */
  objects?: boolean;
}

/**
 * The plan every command acts on: the pure planner, then the automation policies at `now`, which
 * mark actions allowed or held. `checked` (the load and admission diagnostics the caller already
 * has) come first in the plan's list. A resource an admission rule denies gets no actions, nor do
 * actions that wait on one of its actions. Pure; `xops plan`, `diff`, `apply` and the controller share it.
 */
export function gatedPlan(desired: DesiredState, observed: ObservedState, checked: Diagnostic[], opts: GatedPlanOptions): Plan {
  return gate(planChanges(desired, observed, plannerOptions(opts)), desired, observed, checked, opts);
}

/** gatedPlan, letting the event loop run while it plans (see planChangesYielding): the same plan. */
export async function gatedPlanYielding(desired: DesiredState, observed: ObservedState, checked: Diagnostic[], opts: GatedPlanOptions): Promise<Plan> {
  return gate(await planChangesYielding(desired, observed, plannerOptions(opts)), desired, observed, checked, opts);
}

function plannerOptions(opts: GatedPlanOptions): PlanOptions {
  return {
    now: opts.now, repo: opts.repo, limits: opts.limits, protected: opts.protected,
    ...(opts.changedCredentials ? { changedCredentials: opts.changedCredentials } : {}),
    ...(opts.memo ? { memo: opts.memo } : {}),
    ...(opts.objects === false ? { objects: false } : {}),
  };
}

function gate(planned: Plan, desired: DesiredState, observed: ObservedState, checked: Diagnostic[], opts: GatedPlanOptions): Plan {
  // Only a rollout pacing an action counts unavailable VMs: without one, the look at every VM is spared.
  const paced = planned.actions.length > 0 && desired.policies.some((p) => p.spec.automation?.rollout !== undefined);
  const gated = applyAutomation(planned, desired, {
    now: opts.now, limits: opts.limits, approvals: opts.approvals, ...(paced ? { unavailable: unavailableVMs(desired, observed) } : {}),
    ...(opts.annotationCounts ? { annotationCounts: opts.annotationCounts } : {}),
  });
  return { ...gated, actions: withoutDenied(gated.actions, deniedAddresses(checked)), diagnostics: [...checked, ...gated.diagnostics] };
}

/** Addresses of the resources an admission `deny` rule rejects. */
export function deniedAddresses(diagnostics: readonly Diagnostic[]): Set<string> {
  return new Set(diagnostics.filter((d) => d.severity === 'error' && d.code === 'admission' && d.address).map((d) => d.address!));
}

/** The actions minus those of denied resources and those depending on a removed one (plan order: dependencies first). */
function withoutDenied(actions: Action[], denied: ReadonlySet<string>): Action[] {
  if (denied.size === 0) return actions;
  const removed = new Set<string>();
  return actions.filter((a) => {
    if (denied.has(a.address) || a.dependsOn.some((d) => removed.has(d))) {
      removed.add(a.id);
      return false;
    }
    return true;
  });
}
