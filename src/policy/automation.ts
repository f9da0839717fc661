import type { DesiredState, DisruptionClass, MaintenanceWindow } from '../model/desired.js';
import type { Disruption } from '../model/kinds.js';
import type { Action, ActionGate, Plan } from '../model/plan.js';
import { APPROVE_ANNOTATION, approvalHash, isApproved, manifestApprovals, sharedApprovals } from './approval.js';
import { effectiveSettings, OPERATOR_LIMITS, resourceFacts, type OperatorLimits, type ResolvedAutomation, type WindowGroup } from './settings.js';
import { assignRollouts } from './rollout.js';
import { InvalidWindowError, windowStatus, type WindowStatus } from './windows.js';

/** What automation needs besides the plan and the manifests. */
export interface AutomationContext {
  /** The reconcile's clock; windows are evaluated at this instant. */
  now: Date;
  /**
   * Approval tokens (action hashes or ids) found outside the manifests, e.g. commit-message trailers.
   * `xops.io/approve` annotations on manifests and Policies are read from the desired state itself.
   */
  approvals?: readonly string[];
  /** The operator's ceilings; absent: none (library use). Every CLI command and the controller pass them. */
  limits?: OperatorLimits;
  /**
   * Whether an `xops.io/approve` annotation may approve the action with this approval hash; absent:
   * always. The controller answers false until the action was held at an earlier commit, so a
   * commit cannot approve the change it brings (unless the operator sets approvals.sameChange).
   * Approvals in `approvals` (given through the controller's API) always count.
   */
  annotationCounts?: (hash: string) => boolean;
  /**
   * VMs (address → why) the pool shows as not healthy now (`unavailableVMs`): a rollout counts those of its
   * set against maxUnavailable. Absent: none.
   */
  unavailable?: ReadonlyMap<string, string>;
}

function isDisruptionClass(d: Disruption): d is DisruptionClass {
  return d !== 'none';
}

/**
 * Marks every action of `plan` allowed or held, and sets `snapshotBefore`, from the Policies in
 * `desired` at `ctx.now`. Returns a new Plan; the input is not modified. Every gate is recomputed, so a
 * saved plan can be run through it again with a later clock. Checks, in this order, the first that
 * holds an action giving its reason: drift reporting, prune, adoption, approval, maintenance windows,
 * a held dependency, and last the disruption budgets (which only actions that could otherwise run
 * consume, in plan order). Allowed reboots under a Policy's `rollout` are then cut into batches
 * (`action.rollout`, see rollout.ts). The plan must list an action after the actions it depends on.
 */
export function applyAutomation(plan: Plan, desired: DesiredState, ctx: AutomationContext): Plan {
  const settingsByAddress = new Map<string, ResolvedAutomation>();
  const settingsOf = (address: string): ResolvedAutomation => {
    let s = settingsByAddress.get(address);
    if (!s) {
      s = effectiveSettings(desired, address, undefined, ctx.limits);
      settingsByAddress.set(address, s);
    }
    return s;
  };
  const declared = resourceFacts(desired);
  // Every action a Policy governs asks about the same windows at the same instant: evaluate each once.
  const statusByWindow = new Map<MaintenanceWindow, WindowStatus | InvalidWindowError>();
  const statusOf = (window: MaintenanceWindow): WindowStatus | InvalidWindowError => {
    let status = statusByWindow.get(window);
    if (!status) {
      try {
        status = windowStatus(window, ctx.now);
      } catch (err) {
        if (!(err instanceof InvalidWindowError)) throw err;
        status = err;
      }
      statusByWindow.set(window, status);
    }
    return status;
  };
  const shared = sharedApprovals(desired);
  const given = new Set(ctx.approvals ?? []);
  const counts = ctx.annotationCounts ?? (() => true);
  const gates = new Map<string, ActionGate>();
  const budgetUsed = new Map<string, number>();

  const actions = plan.actions.map((action): Action => {
    const settings = settingsOf(action.address);
    const gate =
      limitGate(action, ctx.limits) ??
      ownPolicyGate(action, settings, desired, declared.has(action.address), { shared, given, counts }, statusOf) ??
      dependencyGate(action, gates) ??
      budgetGate(action, settings, budgetUsed) ??
      ({ state: 'allowed' } as const);
    gates.set(action.id, gate);
    const next: Action = { ...action, gate };
    const snapshot = wantsSnapshot(action, settings);
    if (snapshot) next.snapshotBefore = true;
    else delete next.snapshotBefore;
    if (snapshot && settings.snapshotRetain !== undefined) next.snapshotRetain = settings.snapshotRetain;
    else delete next.snapshotRetain;
    return next;
  });
  return { ...plan, actions: assignRollouts(actions, desired, ctx.unavailable) };
}

function held(policy: string, reason: string, releasesAt?: Date | string): ActionGate {
  const at = releasesAt instanceof Date ? releasesAt.toISOString() : releasesAt;
  return { state: 'held', policy, reason, ...(at ? { releasesAt: at } : {}) };
}

/** Held when the action is beyond what the operator allows, whatever the repository's Policies say. */
function limitGate(action: Action, limits: OperatorLimits | undefined): ActionGate | undefined {
  if (limits && action.disruption === 'destructive' && !limits.destructive) {
    return held(OPERATOR_LIMITS, "destructive changes are beyond the operator's limits (set limits.destructive in the operator's configuration, or pass --allow-destructive for one run)");
  }
  return undefined;
}

/** The holds that come from the action's own settings, independent of other actions. */
function ownPolicyGate(
  action: Action,
  s: ResolvedAutomation,
  desired: DesiredState,
  hasManifest: boolean,
  approvals: { shared: ReadonlySet<string>; given: ReadonlySet<string>; counts: (hash: string) => boolean },
  statusOf: (window: MaintenanceWindow) => WindowStatus | InvalidWindowError,
): ActionGate | undefined {
  if (action.drift === true && s.drift === 'report') {
    return held(s.decidedBy.drift, `drift is reported, not healed (policy ${s.decidedBy.drift})`);
  }
  if (action.operation === 'delete' && !hasManifest && !s.prune) {
    return held(s.decidedBy.prune, `prune is off: ${action.address} has no manifest and is kept`);
  }
  if (action.operation === 'adopt' && !s.adopt) {
    return held(s.decidedBy.adopt, `adoption is off: ${action.address} stays unmanaged`);
  }
  const d = action.disruption;
  if (!isDisruptionClass(d)) return undefined;
  if (s.approval.includes(d)) {
    const hash = approvalHash(action);
    // Data loss is approved only by the digest of the exact change, never by an id that approves
    // whatever the action becomes later.
    const names = (tokens: ReadonlySet<string>) => (d === 'destructive' ? tokens.has(hash) : isApproved(action, tokens));
    const annotated = names(approvals.shared) || names(new Set(manifestApprovals(desired, action.address)));
    const approved = names(approvals.given) || (annotated && approvals.counts(hash));
    if (!approved && annotated) {
      return held(
        s.decidedBy.approval[d] ?? '',
        `${d} change needs approval from a later commit than the one that brought it: an approval in the same change does not count (approvals.sameChange), or run xops approve ${hash}`,
      );
    }
    if (!approved) {
      const where = hasManifest ? `${action.address} or a Policy` : 'a Policy';
      // Everything that still holds it, so that giving the approval is not followed by a surprise.
      const after = s.windows.map((group) => windowGate(group, d, statusOf)).find((gate) => gate !== undefined);
      const then = after?.state === 'held' ? `; once approved it still waits: ${after.reason} (policy ${after.policy})` : '';
      return held(
        s.decidedBy.approval[d] ?? '',
        `${d} change needs approval: annotate ${APPROVE_ANNOTATION}: ${approvalHash(action)} on ${where}${then}`,
      );
    }
  }
  for (const group of s.windows) {
    const gate = windowGate(group, d, statusOf);
    if (gate) return gate;
  }
  return undefined;
}

/** Held unless one of the group's windows that allows `d` is open at `now`. */
function windowGate(
  group: WindowGroup,
  d: DisruptionClass,
  statusOf: (window: MaintenanceWindow) => WindowStatus | InvalidWindowError,
): ActionGate | undefined {
  const allowing: MaintenanceWindow[] = group.windows.filter((w) => w.allow.includes(d));
  if (allowing.length === 0) {
    return held(group.policy, `no maintenance window allows ${d} changes`);
  }
  let nextOpen: Date | null = null;
  for (const window of allowing) {
    const status = statusOf(window);
    if (status instanceof InvalidWindowError) {
      // Validation reports the bad schedule; until it is fixed, nothing it guards runs.
      return held(group.policy, `maintenance window schedule "${window.schedule}" is invalid: ${status.message}`);
    }
    if (status.open) return undefined;
    if (status.nextOpen && (!nextOpen || status.nextOpen < nextOpen)) nextOpen = status.nextOpen;
  }
  return held(
    group.policy,
    nextOpen
      ? `outside maintenance window; next opens at ${nextOpen.toISOString()}`
      : 'outside maintenance window; no window allowing it opens again',
    nextOpen ?? undefined,
  );
}

/** Held when an action this one depends on is held: it cannot run before its dependency. */
function dependencyGate(action: Action, gates: ReadonlyMap<string, ActionGate>): ActionGate | undefined {
  for (const dep of action.dependsOn) {
    const gate = gates.get(dep);
    if (gate?.state === 'held') return held(gate.policy, `waits for ${dep}`, gate.releasesAt);
  }
  return undefined;
}

/**
 * Each Policy's budget counts the disruptive actions it selects that run in this reconcile; an action
 * runs only when every budget that applies has room, and then uses one unit of each.
 */
function budgetGate(action: Action, s: ResolvedAutomation, used: Map<string, number>): ActionGate | undefined {
  if (!isDisruptionClass(action.disruption) || s.budgets.length === 0) return undefined;
  for (const budget of s.budgets) {
    if ((used.get(budget.policy) ?? 0) >= budget.maxDisruptive) {
      return held(budget.policy, `maxDisruptive ${budget.maxDisruptive} reached; runs in a later reconcile`);
    }
  }
  for (const budget of s.budgets) used.set(budget.policy, (used.get(budget.policy) ?? 0) + 1);
  return undefined;
}

/** Snapshot a VM that exists (not a create) before a change whose disruption a Policy lists. */
function wantsSnapshot(action: Action, s: ResolvedAutomation): boolean {
  return (
    action.kind === 'VM' &&
    action.operation !== 'create' &&
    isDisruptionClass(action.disruption) &&
    s.snapshotBefore.includes(action.disruption)
  );
}
