/**
 * host.evacuate and its checks, after xen-api `ocaml/xapi/xapi_host.ml` (`compute_evacuation_plan_no_wlb`,
 * `assert_can_evacuate`, `get_vms_which_prevent_evacuation`, `evacuate`): every user VM resident on the host
 * gets a target among the *other enabled* hosts or an error. No target host: NO_HOSTS_AVAILABLE [vm]. With HA
 * on, a VM HA does not protect: HOST_EVACUATE_VM_NOT_HA_PROTECTED [vm]. A VM that cannot boot on some target
 * (storage, network): that error (VM_REQUIRES_SR [vm, sr]...). Then memory is bin-packed; a VM left over:
 * HOST_NOT_ENOUGH_FREE_MEMORY [vm]. `evacuate` raises the first error before moving anything, then
 * live-migrates each VM to its target (VM.pool_migrate: the VM keeps running).
 */
import type { Call, Handler } from '../core.js';
import type { SimDatabase } from '../database.js';
import { XapiFailure, fail } from '../errors.js';
import { assertCanBootHere } from './vm.js';
import { hostComputeFreeMemory, vmStartFootprint } from './memory.js';

type Plan = Map<string, { host: string } | { error: string[] }>;

function errorOf(e: unknown): string[] {
  if (e instanceof XapiFailure) return e.toArray();
  throw e;
}

/** The evacuation plan: each user VM resident on `host` → its target host, or why it cannot move. */
export function evacuationPlan(db: SimDatabase, host: string, hostRefs: readonly string[]): Plan {
  const plan: Plan = new Map();
  const targets = hostRefs.filter((h) => h !== host && db.record(h).enabled === true);
  const vms = (db.record(host).resident_VMs as string[]).filter((vm) => db.record(vm).is_control_domain !== true);
  if (targets.length === 0) {
    for (const vm of vms) plan.set(vm, { error: ['NO_HOSTS_AVAILABLE', vm] });
    return plan;
  }
  const pool = [...db.all('pool')][0]!.rec;
  const movable: string[] = [];
  for (const vm of vms) {
    const rec = db.record(vm);
    if (pool.ha_enabled === true && !(rec.ha_restart_priority === 'restart' || rec.ha_always_run === true)) {
      plan.set(vm, { error: ['HOST_EVACUATE_VM_NOT_HA_PROTECTED', vm] });
      continue;
    }
    try {
      for (const t of targets) assertCanBootHere(db, vm, t, false);
      movable.push(vm);
    } catch (e) {
      plan.set(vm, { error: errorOf(e) });
    }
  }
  // Biggest first, each onto the target with the most free memory left (a first-fit-decreasing bin-pack).
  const free = new Map(targets.map((t) => [t, hostComputeFreeMemory(db, t)]));
  movable.sort((a, b) => vmStartFootprint(db.record(b)) - vmStartFootprint(db.record(a)));
  for (const vm of movable) {
    const need = vmStartFootprint(db.record(vm));
    const best = targets.filter((t) => free.get(t)! >= need).sort((a, b) => free.get(b)! - free.get(a)!)[0];
    if (!best) {
      plan.set(vm, { error: ['HOST_NOT_ENOUGH_FREE_MEMORY', vm] });
      continue;
    }
    free.set(best, free.get(best)! - need);
    plan.set(vm, { host: best });
  }
  return plan;
}

function errors(plan: Plan): string[][] {
  return [...plan.values()].flatMap((p) => ('error' in p ? [p.error] : []));
}

/** host.evacuate, host.assert_can_evacuate, host.get_vms_which_prevent_evacuation. */
export function evacuateHandlers(): Record<string, Handler> {
  const planOf = (c: Call): Plan => evacuationPlan(c.db, c.db.expect('host', c.args[0]).ref, c.core.hostRefs());
  return {
    'host.assert_can_evacuate': (c) => {
      const errs = errors(planOf(c));
      if (errs.length > 0) throw fail('CANNOT_EVACUATE_HOST', errs.map((e) => e.join(',')).join('|'));
    },
    'host.get_vms_which_prevent_evacuation': (c) => {
      const out: Record<string, string[]> = {};
      for (const [vm, p] of planOf(c)) if ('error' in p) out[vm] = p.error;
      return out;
    },
    'host.evacuate': async (c) => {
      const plan = planOf(c);
      const first = errors(plan)[0];
      if (first) throw fail(first[0]!, ...first.slice(1));
      const migrate = c.core.handlers.get('VM.pool_migrate')!;
      const spec = c.core.model.classes.get('VM')!.messages.get('pool_migrate')!;
      for (const [vm, p] of plan) if ('host' in p) await migrate({ ...c, spec, args: [vm, p.host, { live: 'true' }] });
    },
  };
}
