import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { operatorChecks } from '../config/checks.js';
import { gatedPlan } from '../plan/pipeline.js';
import { checkAdmission } from '../policy/index.js';
import type { OperatorSettings } from './operator-config.js';

/** After loading: admission, then the gated plan. Diagnostics from loading and admission come first. */
export function planDesired(
  desired: DesiredState,
  loadDiagnostics: Diagnostic[],
  observed: ObservedState,
  opts: { now: Date; repo?: string; operator: OperatorSettings },
): Plan {
  const checked = [...loadDiagnostics, ...checkAdmission(desired), ...operatorChecks(desired, opts.operator.config)];
  return gatedPlan(desired, observed, checked, { now: opts.now, repo: opts.repo, limits: opts.operator.limits, protected: opts.operator.config.protected });
}
