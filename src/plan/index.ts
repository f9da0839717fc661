import type { OperatorLimits } from '../policy/settings.js';
import type { ProtectedSelector } from '../config/types.js';
import { refuseProtected } from './protection.js';
import type { DesiredResource, DesiredState } from '../model/desired.js';
import type { ResourceKind } from '../model/kinds.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { documentsOf, KIND_REGISTRY } from '../kinds/index.js';
import { addressOfResource, createContext, identityObjectsSteps, type DraftAction, type PlanContext } from './context.js';
import { orderActions, type OrderRules } from './order.js';
import { findOwned } from './ownership.js';
import type { MemoSession, PlanMemo } from './memo.js';
import { tracingIndex } from './trace.js';
import { runSteps, runStepsYielding, type Steps } from '../model/steps.js';

export { specDigest, staleObjects } from './identity.js';
import { withSpecDigests } from './spec-digests.js';
export type { ResolvedReference } from './refs.js';

/** What the planner may be told besides desired and observed state. */
export interface PlanOptions {
  /** The plan's createdAt; defaults to the current time. */
  now?: Date;
  /** Repository identity (`xops.repo`): objects marked by another repository are never touched. */
  repo?: string;
  /** Adopt unmanaged objects that have a manifest's name; default: the Policy's automation.adopt. */
  adopt?: boolean;
  /** Delete managed objects no manifest declares; default: the Policy's automation.prune. */
  prune?: boolean;
  /** Live-migrate running VMs to their affinity host; default: the VM's `xops.io/migrate-on-affinity` annotation. */
  migrateOnAffinity?: boolean;
  /** The operator's ceilings: `adopt`/`prune` above cannot exceed them either. */
  limits?: OperatorLimits;
  /** Objects the operator protects, besides those every kind protects itself (control domains, ...). */
  protected?: readonly ProtectedSelector[];
  /**
   * Declared credentials (`<address>#<path>`, see secrets/changes.ts credentialId) whose value differs
   * from the digest xops recorded when it applied them: the I/O step `credentialChanges` finds them
   * before planning. Absent: the plan cannot tell, and shows no credential change.
   */
  changedCredentials?: ReadonlySet<string>;
  /**
   * Per-VM planning kept from earlier plans (the controller's): VM manifests unchanged since, under
   * the same pool state, other manifests and options, are not planned again. The plan is the same.
   */
  memo?: PlanMemo;
  /**
   * false: `observed.objects` is left empty (a plan only shown, never saved or applied: what
   * `POST /plan` answers a client printing text or Markdown), which spares digesting every object read.
   */
  objects?: boolean;
}

/** Each kind's main class and built-in protections, for refuseProtected. */
export const PROTECTION_RULES = new Map(
  KIND_REGISTRY.flatMap((k) => (k.classes.length > 0 ? [[k.kind, { mainClass: k.classes[0]!, builtIn: k.protection }] as const] : [])),
);

/** The ordering rules the kinds declare. */
const ORDER_RULES: OrderRules = {
  mainClass: new Map(KIND_REGISTRY.flatMap((k) => (k.classes.length > 0 ? [[k.kind, k.classes[0]!] as const] : []))),
  usersOf: new Map(KIND_REGISTRY.flatMap((k) => (k.usersOf ? [[k.kind, k.usersOf] as const] : []))),
};

/** For each kind whose manifests name existing objects: manifest name → object name (the first declared wins). */
function liveNamedManifests(desired: DesiredState): Map<ResourceKind, Map<string, string>> {
  const out = new Map<ResourceKind, Map<string, string>>();
  for (const kind of KIND_REGISTRY) {
    if (!kind.liveName) continue;
    const names = new Map<string, string>();
    for (const doc of documentsOf(desired, kind)) if (!names.has(doc.meta.name)) names.set(doc.meta.name, kind.liveName(doc));
    out.set(kind.kind as ResourceKind, names);
  }
  return out;
}

/**
 * A managed object whose manifest was removed while another manifest still refers to it (a VM on
 * the network, a disk on the SR) is not deleted: the delete is refused, naming the manifest (file
 * and line) that still uses it, so the VM is never cut off. Restoring the manifest, or changing the
 * reference first, lets the next plan go ahead.
 */
function refuseDeletesInUse(ctx: PlanContext): void {
  const kept: DraftAction[] = [];
  for (const action of ctx.actions) {
    const main = action.operation === 'delete' && action.id === `delete:${action.address}` ? action.objects[0] : undefined;
    const user = main ? ctx.liveUsers.get(main.ref) : undefined;
    if (!user) {
      kept.push(action);
      continue;
    }
    const where = user.location ? ` (${user.location.file}:${user.location.line})` : '';
    ctx.refused.push({
      address: action.address,
      path: 'metadata.name',
      reason: `its manifest was removed, but ${user.address}${where} still uses it at ${user.path}: not deleted; restore the ${action.kind} manifest or change that reference first`,
    });
  }
  ctx.actions.splice(0, ctx.actions.length, ...kept);
}

/**
 * Compares what the manifests declare with what the pool has and returns the actions that make the
 * pool match, each labelled with what it costs the running workload. Pure: no I/O, no clock unless
 * `now` is absent. Problems (conflicts, dangling references) are diagnostics in the plan; the
 * resources they concern have no actions.
 */
export function planChanges(desired: DesiredState, observed: ObservedState, opts: PlanOptions = {}): Plan {
  return runSteps(planSteps(desired, observed, opts));
}

/** Manifests planned between two turns of the event loop in planChangesYielding: tens of ms at most. */
const DOCUMENTS_PER_TURN = 500;

/**
 * planChanges, giving the event loop a turn after every few hundred manifests: the same plan, but a
 * controller planning 10,000 VMs cold goes on renewing its lease and answering health checks
 * meanwhile, and a CLI plan does not stall for a second. Nothing else can change what is planned in
 * between: the states are snapshots, and a PlanMemo's entries hold for whichever plan recorded them.
 */
export function planChangesYielding(desired: DesiredState, observed: ObservedState, opts: PlanOptions = {}): Promise<Plan> {
  return runStepsYielding(planSteps(desired, observed, opts));
}

// The loops over a kind's manifests, a turn's worth at a time. A memo is told each manifest's
// position in its kind's list: the planning of the manifest at a position finds the ownership found
// for it there without looking its address up again.
function ownersOf(ctx: PlanContext, docs: DesiredResource[], from: number, to: number, owner: NonNullable<(typeof KIND_REGISTRY)[number]['owner']>, kept: MemoSession | undefined): void {
  for (let i = from; i < to; i++) {
    const doc = docs[i]!;
    if (!kept) {
      ctx.owners.set(addressOfResource(doc), findOwned(ctx, doc, owner));
      continue;
    }
    const known = ctx.owners.size;
    ctx.owners.set(addressOfResource(doc), kept.owner(ctx, doc, () => findOwned(ctx, doc, owner), i));
    // Two manifests with one address: the later one's ownership is the one planning reads.
    if (ctx.owners.size === known) kept.addressRepeated();
  }
}

function planEach(ctx: PlanContext, docs: DesiredResource[], from: number, to: number, plan: (ctx: PlanContext, doc: DesiredResource) => void, kept: MemoSession | undefined): void {
  for (let i = from; i < to; i++) {
    const doc = docs[i]!;
    if (kept) kept.plan(ctx, doc, () => plan(ctx, doc), i);
    else plan(ctx, doc);
  }
}

/** planChanges as steps: it yields (nothing) where a caller may let other work run. */
function* planSteps(desired: DesiredState, observed: ObservedState, opts: PlanOptions): Steps<Plan> {
  const options = {
    now: opts.now ?? new Date(),
    repo: opts.repo,
    adopt: opts.adopt,
    prune: opts.prune,
    migrateOnAffinity: opts.migrateOnAffinity,
    limits: opts.limits,
    changedCredentials: opts.changedCredentials,
  };
  // Only memoizable kinds (VMs) come by the thousand; the others are planned afresh each time.
  const memo = opts.memo?.session(desired, observed, options, opts.objects !== false);
  const ctx = createContext(desired, observed, options, liveNamedManifests(desired), memo ? (index, c) => tracingIndex(index, () => c.trace) : undefined);
  // Ownership first, so that references between manifests know whether their target is created.
  for (const kind of KIND_REGISTRY) {
    const owner = kind.owner;
    if (!owner) continue;
    const kept = kind.memoizable ? memo : undefined;
    const docs = documentsOf(desired, kind) as DesiredResource[];
    for (let at = 0; at < docs.length; at += DOCUMENTS_PER_TURN) {
      ownersOf(ctx, docs, at, Math.min(at + DOCUMENTS_PER_TURN, docs.length), owner, kept);
      if (docs.length > DOCUMENTS_PER_TURN) yield;
    }
  }
  for (const kind of KIND_REGISTRY) {
    const plan = kind.plan;
    if (!plan) continue;
    const kept = kind.memoizable ? memo : undefined;
    const docs = documentsOf(desired, kind) as DesiredResource[];
    for (let at = 0; at < docs.length; at += DOCUMENTS_PER_TURN) {
      planEach(ctx, docs, at, Math.min(at + DOCUMENTS_PER_TURN, docs.length), plan as (ctx: PlanContext, doc: DesiredResource) => void, kept);
      if (docs.length > DOCUMENTS_PER_TURN) yield;
    }
  }
  yield;
  // Deletes run dependents first: the reverse of the registry's order.
  for (const kind of [...KIND_REGISTRY].reverse()) kind.prune?.(ctx);
  refuseProtected(ctx, PROTECTION_RULES, opts.protected ?? []);

  refuseDeletesInUse(ctx);
  const actions = orderActions(ctx, ctx.actions, ORDER_RULES);
  const objects = opts.objects === false ? {} : yield* identityObjectsSteps(ctx, opts.memo !== undefined);
  // Every action carries the digest apply records as xops.spec, so a saved plan is complete too.
  return withSpecDigests({
    formatVersion: 1,
    createdAt: ctx.options.now.toISOString(),
    source: desired.source,
    observed: { token: observed.token, objects },
    actions,
    refused: ctx.refused,
    diagnostics: ctx.diagnostics,
    ...(ctx.guests.size > 0 ? { guests: Object.fromEntries([...ctx.guests].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, addresses]) => [k, { addresses }])) } : {}),
  }, desired);
}
