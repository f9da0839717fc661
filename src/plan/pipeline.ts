import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { applyAutomation } from '../policy/automation.js';
import type { OperatorLimits } from '../policy/settings.js';
import type { ProtectedSelector } from '../config/types.js';
import { planChanges } from './index.js';

/**
 * The plan every command acts on: the pure planner, then the automation policies at `now`, which
 * mark actions allowed or held. `checked` (the load and admission diagnostics the caller already
 * has) come first in the plan's list. Pure; `xops plan`, `diff`, `apply` and the controller share it.
 */
export function gatedPlan(
  desired: DesiredState,
  observed: ObservedState,
  checked: Diagnostic[],
  opts: { now: Date; repo?: string; limits: OperatorLimits; approvals?: readonly string[]; protected?: readonly ProtectedSelector[] },
): Plan {
  const planned = planChanges(desired, observed, { now: opts.now, repo: opts.repo, limits: opts.limits, protected: opts.protected });
  const gated = applyAutomation(planned, desired, { now: opts.now, limits: opts.limits, approvals: opts.approvals });
  return { ...gated, diagnostics: [...checked, ...gated.diagnostics] };
}
