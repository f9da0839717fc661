import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { operatorChecks } from '../config/checks.js';
import { credentialChanges, operatorSecretSource } from '../config/credentials.js';
import type { SecretSource } from '../secrets/index.js';
import { gatedPlanYielding } from '../plan/pipeline.js';
import { checkAdmission } from '../policy/index.js';
import type { OperatorSettings } from './operator-config.js';

/** After loading: admission, then the gated plan. Diagnostics from loading and admission come first. */
export async function planDesired(
  desired: DesiredState,
  loadDiagnostics: Diagnostic[],
  observed: ObservedState,
  opts: {
    now: Date; repo?: string; operator: OperatorSettings; changedCredentials?: ReadonlySet<string>;
    /** false: the plan is only shown, never saved, so `observed.objects` is not built (see PlanOptions.objects). */
    objects?: boolean;
  },
): Promise<Plan> {
  const checked = [...loadDiagnostics, ...checkAdmission(desired), ...operatorChecks(desired, opts.operator.config)];
  // The event loop runs while 10,000 VMs are planned: the process answers signals and keeps its lease.
  return gatedPlanYielding(desired, observed, checked, {
    now: opts.now, repo: opts.repo, limits: opts.operator.limits, protected: opts.operator.config.protected,
    ...(opts.changedCredentials ? { changedCredentials: opts.changedCredentials } : {}),
    ...(opts.objects === false ? { objects: false } : {}),
  });
}

/** Where the CLI reads secretRefs: under the operator's rules, never from xops' own credential files. */
export function cliSecretSource(operator: OperatorSettings, passwordFile: string | undefined): SecretSource {
  return operatorSecretSource(operator.config, [passwordFile]);
}

/** The declared credentials changed since xops applied them (planDesired's `changedCredentials`), read as cliSecretSource does. */
export function cliCredentialChanges(
  desired: DesiredState,
  observed: ObservedState,
  operator: OperatorSettings,
  passwordFile: string | undefined,
  repo: string | undefined,
): Promise<Set<string>> {
  return credentialChanges(desired, observed, operator.config, cliSecretSource(operator, passwordFile), repo);
}
