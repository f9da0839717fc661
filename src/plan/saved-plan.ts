import { createHash } from 'node:crypto';
import type { ProtectedSelector } from '../config/types.js';
import type { DesiredState } from '../model/desired.js';
import { MANAGED_KEY, REPO_KEY, type ObservedClass, type ObservedState, type Ref, type XapiRecord } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { createContext } from './context.js';
import { PROTECTION_RULES } from './index.js';
import { refuseProtected } from './protection.js';
import { stableStringify } from './values.js';

/**
 * A saved plan on disk: the plan plus `digest`, the SHA-256 of its canonical JSON. The digest catches
 * a plan edited or truncated after `xops plan --save`; it is not a signature (whoever can write the
 * file can recompute it), so apply also re-checks protections and marks against the live pool.
 */
export type SavedPlan = Plan & { digest: string };

/** The digest `plan --save` writes and `apply --plan` verifies: over everything but the digest itself. */
export function planDigest(plan: Plan): string {
  const { digest: _ignored, ...content } = plan as SavedPlan;
  return 'sha256:' + createHash('sha256').update(stableStringify(content)).digest('hex');
}

/** The file text `xops plan --save` writes. */
export function savedPlanText(plan: Plan): string {
  return JSON.stringify({ ...plan, digest: planDigest(plan) }, null, 2) + '\n';
}

/** Why a parsed saved plan cannot be trusted as written (digest missing or wrong, empty identity), or undefined. */
export function savedPlanIntegrity(plan: Plan): string | undefined {
  const digest = (plan as Partial<SavedPlan>).digest;
  if (typeof digest !== 'string') return "it carries no digest (save it again with 'xops plan --save')";
  if (digest !== planDigest(plan)) return 'its content does not match its digest: it was changed after it was saved';
  // Without the objects it read, nothing would tell a stale (or forged) plan from a current one.
  if (plan.actions.length > 0 && Object.keys(plan.observed.objects ?? {}).length === 0) {
    return 'its observed identity is empty: nothing ties it to the pool it was made against';
  }
  return undefined;
}

const EMPTY_DESIRED: DesiredState = { source: { path: '' }, hosts: [], networks: [], srs: [], disks: [], vms: [], appliances: [], snapshotSchedules: [], vmGroups: [], policies: [], documents: [] };

/** Kinds whose object xops never creates: declaring one is the claim, so it may still be unmarked. */
const CLAIMED_BY_DECLARING = new Set(['Pool', 'Host']);

/**
 * What, at apply time, forbids running a saved plan against `observed` (one line each): an object an
 * action adopts, changes or deletes that is protected now (built in — control domain, template,
 * management network — or by the operator's `protected`), or whose marks are not the ones the plan
 * expects (a managed object no longer marked for the action's resource by this repository; an object
 * to adopt that someone marked meanwhile).
 */
export function savedPlanProblems(plan: Plan, observed: ObservedState, opts: { protected: readonly ProtectedSelector[]; repo?: string }): string[] {
  const problems: string[] = [];
  const ctx = createContext(EMPTY_DESIRED, observed, { now: new Date(0), ...(opts.repo ? { repo: opts.repo } : {}) });
  ctx.actions.push(...plan.actions.map((a) => ({ ...a, dependsOn: [...a.dependsOn] })));
  refuseProtected(ctx, PROTECTION_RULES, opts.protected);
  for (const r of ctx.refused) problems.push(`${r.address}: ${r.reason}`);
  for (const action of plan.actions) {
    if (action.operation === 'create') continue;
    const main = PROTECTION_RULES.get(action.kind)?.mainClass;
    const own = action.objects.find((o) => o.cls === main);
    if (!own) continue;
    const record = (observed.records[own.cls as ObservedClass] as Map<Ref, XapiRecord> | undefined)?.get(own.ref);
    const oc = record?.['other_config'] as Record<string, string> | undefined;
    if (!record || !oc) continue; // gone objects are the staleness check's; VM_appliance keeps no marks here
    const marked = oc[MANAGED_KEY];
    if (action.operation === 'adopt') {
      if (marked !== undefined) problems.push(`${action.address}: ${own.cls} ${record.uuid} to adopt is now marked ${marked}`);
      continue;
    }
    if (marked === undefined && CLAIMED_BY_DECLARING.has(action.kind)) continue;
    if (marked !== action.address) {
      problems.push(`${action.address}: ${own.cls} ${record.uuid} is ${marked === undefined ? 'not marked as managed by xops' : `marked ${marked}`}, not ${action.address}`);
    } else if (opts.repo && oc[REPO_KEY] !== undefined && oc[REPO_KEY] !== opts.repo) {
      problems.push(`${action.address}: ${own.cls} ${record.uuid} belongs to repository ${oc[REPO_KEY]}, not ${opts.repo}`);
    }
  }
  return [...new Set(problems)];
}
