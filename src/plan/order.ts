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

/** Uuids of the VMs with a VIF on the network / a disk on the SR that an action deletes. */
function usersOf(ctx: PlanContext, a: Action): Set<string> {
  const users = new Set<string>();
  const main = a.objects[0];
  if (!main) return users;
  if (main.cls === 'network') {
    for (const vif of ctx.index.get('network', main.ref)?.VIFs ?? []) {
      const vm = ctx.index.get('VM', ctx.index.get('VIF', vif)?.VM ?? '');
      if (vm) users.add(vm.uuid);
    }
  } else if (main.cls === 'SR') {
    for (const vdi of ctx.index.get('SR', main.ref)?.VDIs ?? []) {
      for (const vbd of ctx.index.get('VDI', vdi)?.VBDs ?? []) {
        const vm = ctx.index.get('VM', ctx.index.get('VBD', vbd)?.VM ?? '');
        if (vm) users.add(vm.uuid);
      }
    }
  }
  return users;
}

/**
 * Turns the draft actions into the plan's ordered list. Dependencies are only real ones: actions on
 * the same resource run one after another (in the order the kind planner emitted them); an action
 * that refers to a manifest waits for that manifest's create/replace/adopt; deleting a network or
 * SR waits for the actions on the VMs still using it. Everything else may run concurrently.
 */
export function orderActions(ctx: PlanContext, drafts: DraftAction[]): Action[] {
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
  const byVM = new Map<string, string[]>();
  for (const a of kept) {
    const prev = lastOf.get(a.address);
    if (prev) a.dependsOn.push(prev);
    lastOf.set(a.address, a.id);
    if (PROVIDES.has(a.operation)) providers.set(a.address, [...(providers.get(a.address) ?? []), a.id]);
    for (const o of a.objects) {
      if (o.cls !== 'VM' || a.kind !== 'VM') continue;
      byVM.set(o.uuid, [...(byVM.get(o.uuid) ?? []), a.id]);
    }
  }
  for (const a of kept) {
    for (const need of a.needs ?? []) for (const id of providers.get(need) ?? []) if (id !== a.id) a.dependsOn.push(id);
    if (a.operation === 'delete' && (a.kind === 'Network' || a.kind === 'SR')) {
      for (const vm of usersOf(ctx, a)) a.dependsOn.push(...(byVM.get(vm) ?? []));
    }
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
