import type { ObservedClass } from '../model/observed.js';
import type { Action } from '../model/plan.js';
import { KIND_ORDER } from '../model/kinds.js';
import type { DraftAction, PlanContext } from './context.js';

/** Operations after which something that refers to the resource can use its object. */
const PROVIDES = new Set(['create', 'replace', 'adopt']);

/** Creates and updates run in kind order; deletes after all of them, in reverse kind order. */
function rank(a: Action): number {
  const i = KIND_ORDER.indexOf(a.kind);
  return a.operation === 'delete' && !a.id.includes(':disk/') ? KIND_ORDER.length * 2 - 1 - i : i;
}

/** What ordering needs to know of each kind (the planner builds it from the kind registry). */
export interface OrderRules {
  /** The XAPI class of each kind's main object: an action is indexed by the uuids of those it touches. */
  mainClass: ReadonlyMap<string, ObservedClass>;
  /**
   * For a delete of this kind: uuids of other resources' main objects still using what it deletes
   * (the VMs on a network or SR); the delete waits for every action on them.
   */
  usersOf: ReadonlyMap<string, (ctx: PlanContext, action: Action) => Set<string>>;
}

/**
 * Turns the draft actions into the plan's ordered list. Dependencies are only real ones: actions on
 * the same resource run one after another (in the order the kind planner emitted them); an action
 * that refers to a manifest waits for that manifest's create/replace/adopt; a delete waits for the
 * actions on the objects still using what it deletes (`rules.usersOf`: the VMs on a network or SR).
 * Everything else may run concurrently.
 */
export function orderActions(ctx: PlanContext, drafts: DraftAction[], rules: OrderRules): Action[] {
  // Actions that need a resource that could not be planned cannot run either.
  let kept = drafts.filter((a) => !ctx.failed.has(a.address));
  for (const a of kept) {
    const blocked = a.needs?.find((n) => ctx.failed.has(n));
    if (blocked) {
      ctx.diagnostics.push({ severity: 'error', code: 'blocked-ref', address: a.address, message: `refers to ${blocked}, which cannot be planned (see its error)` });
      ctx.failed.add(a.address);
    }
  }
  kept = kept.filter((a) => !ctx.failed.has(a.address));

  const providers = new Map<string, string[]>();
  const lastOf = new Map<string, string>();
  const byObject = new Map<string, string[]>();
  for (const a of kept) {
    const prev = lastOf.get(a.address);
    if (prev) a.dependsOn.push(prev);
    lastOf.set(a.address, a.id);
    if (PROVIDES.has(a.operation)) providers.set(a.address, [...(providers.get(a.address) ?? []), a.id]);
    const main = rules.mainClass.get(a.kind);
    for (const o of a.objects) {
      if (o.cls !== main) continue;
      byObject.set(o.uuid, [...(byObject.get(o.uuid) ?? []), a.id]);
    }
  }
  for (const a of kept) {
    for (const need of a.needs ?? []) for (const id of providers.get(need) ?? []) if (id !== a.id) a.dependsOn.push(id);
    const usersOf = a.operation === 'delete' ? rules.usersOf.get(a.kind) : undefined;
    if (usersOf) for (const user of usersOf(ctx, a)) a.dependsOn.push(...(byObject.get(user) ?? []));
    a.dependsOn = [...new Set(a.dependsOn)];
  }

  const sorted = kept.map((a, seq) => ({ a, seq })).sort((x, y) => rank(x.a) - rank(y.a) || x.seq - y.seq).map((x) => x.a);
  const byId = new Map(sorted.map((a) => [a.id, a]));
  const out: Action[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (a: DraftAction) => {
    const s = state.get(a.id);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`dependency cycle through ${a.id}`);
    state.set(a.id, 'visiting');
    for (const d of a.dependsOn) {
      const dep = byId.get(d);
      if (dep) visit(dep);
    }
    state.set(a.id, 'done');
    const { needs: _needs, ...action } = a;
    out.push(action);
  };
  sorted.forEach(visit);
  return out;
}
