/**
 * Rolling changes: the VM actions that need a reboot, over the VMs a Policy with `rollout` selects, are
 * cut into batches of at most `maxUnavailable`, in plan order. Pure: it only labels actions; apply
 * (src/apply/rollout.ts) holds each batch until the one before is healthy.
 */
import type { DesiredPolicy, DesiredState, RolloutSettings } from '../model/desired.js';
import { MANAGED_KEY, NULL_REF, type ObservedState } from '../model/observed.js';
import type { Action, ActionGate, RolloutStep } from '../model/plan.js';
import { matches } from './match.js';
import { parseAddress, resourceFacts } from './settings.js';

/** The actions a rollout paces: a VM that exists and reboots for the change. */
export function pacedByRollout(action: Action): boolean {
  return action.kind === 'VM' && action.disruption === 'reboot' && action.operation !== 'create' && action.operation !== 'delete';
}

/**
 * VMs per batch: a count as given, a percentage of `setSize` rounded down; at least one VM either way,
 * so that a rollout always progresses.
 */
export function batchSize(maxUnavailable: RolloutSettings['maxUnavailable'], setSize: number): number {
  if (typeof maxUnavailable === 'number') return Math.max(1, Math.floor(maxUnavailable));
  const percent = Number(maxUnavailable.slice(0, -1));
  return Math.max(1, Math.floor((setSize * percent) / 100));
}

/** The first Policy (document order) with a rollout whose `spec.match` selects the VM at `address`. */
function rolloutPolicyOf(policies: readonly DesiredPolicy[], address: string, labels: Readonly<Record<string, string>>): DesiredPolicy | undefined {
  const { kind, name } = parseAddress(address);
  return policies.find((p) => matches(p.spec.match, { kind, name, labels }));
}

/**
 * The VMs a manifest wants running that the pool shows as not healthy now (address → why), as a
 * rollout's health check would judge them: not running, or no live guest metrics. Read from the snapshot
 * by the ownership mark. A rollout counts those of its set against `maxUnavailable`, so that a change
 * that breaks its VMs stops after at most `maxUnavailable` of them, over any number of reconciles.
 */
export function unavailableVMs(desired: DesiredState, observed: ObservedState): Map<string, string> {
  const wanted = new Set(desired.vms.filter((vm) => vm.spec.powerState === 'running').map((vm) => `VM/${vm.meta.name}`));
  const out = new Map<string, string>();
  if (wanted.size === 0) return out;
  for (const vm of observed.records.VM.values()) {
    if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) continue;
    const address = vm.other_config?.[MANAGED_KEY];
    if (!address || !wanted.has(address)) continue;
    if (vm.power_state !== 'Running') {
      out.set(address, `is ${vm.power_state.toLowerCase()}, its manifest wants it running`);
      continue;
    }
    const metrics = vm.guest_metrics && vm.guest_metrics !== NULL_REF ? observed.records.VM_guest_metrics.get(vm.guest_metrics) : undefined;
    if (!metrics) out.set(address, 'runs, but its guest agent does not report');
    else if (metrics['live'] === false) out.set(address, 'runs, but its guest agent stopped reporting');
  }
  return out;
}

/**
 * Sets `rollout` on every allowed action a rollout paces, and removes it from every other (a saved plan
 * run through automation again is relabelled from scratch). A VM selected by several Policies with a
 * rollout follows the first of them in document order. Batches follow plan order; a held action takes
 * no place in a batch (it does not run in this reconcile). VMs of the set that are `unavailable` now
 * (and not part of this rollout) use up `maxUnavailable` first: the batches are that much smaller, and
 * with no room left every paced action is held, naming them (and what waits on them is held too).
 * Returns new actions; the input is not modified.
 */
export function assignRollouts(actions: readonly Action[], desired: DesiredState, unavailable: ReadonlyMap<string, string> = new Map()): Action[] {
  const policies = desired.policies.filter((p) => p.spec.automation?.rollout !== undefined);
  const facts = resourceFacts(desired);
  const members = new Map<DesiredPolicy, Action[]>();
  for (const action of actions) {
    if (policies.length === 0 || action.gate.state !== 'allowed' || !pacedByRollout(action)) continue;
    const policy = rolloutPolicyOf(policies, action.address, facts.get(action.address)?.labels ?? {});
    if (!policy) continue;
    const list = members.get(policy);
    if (list) list.push(action);
    else members.set(policy, [action]);
  }
  const steps = new Map<string, RolloutStep>();
  const holds = new Map<string, ActionGate>();
  for (const [policy, paced] of members) {
    const settings = policy.spec.automation!.rollout!;
    // The set a percentage is of: every declared VM the Policy selects, whether or not it changes now.
    const set = desired.documents.filter((d) => d.kind === 'VM' && matches(policy.spec.match, { kind: 'VM', name: d.name, labels: d.labels }));
    // A unit of a batch is a VM: every paced action of one VM lands in the same batch.
    const position = new Map<string, number>();
    for (const a of paced) if (!position.has(a.address)) position.set(a.address, position.size);
    const full = batchSize(settings.maxUnavailable, Math.max(set.length, position.size));
    const down = set.map((d) => d.address).filter((address) => unavailable.has(address) && !position.has(address));
    const size = full - down.length;
    if (size <= 0) {
      const named = down.slice(0, 3).map((address) => `${address} ${unavailable.get(address)}`).join('; ');
      const gate: ActionGate = {
        state: 'held',
        policy: policy.meta.name,
        reason: `rollout waits: ${down.length} VM(s) of its set are unavailable, which uses up maxUnavailable ${full} (${named}${down.length > 3 ? '; …' : ''}); it goes on once they are healthy again`,
      };
      for (const a of paced) holds.set(a.id, gate);
      continue;
    }
    const batches = Math.ceil(position.size / size);
    for (const action of paced) {
      const batch = Math.floor(position.get(action.address)! / size) + 1;
      steps.set(action.id, { policy: policy.meta.name, batch, batches, maxUnavailable: size, healthyAfter: settings.healthyAfter });
    }
  }
  // What waits on a newly held action is held too (plan order: dependencies come first).
  for (const action of actions) {
    if (holds.has(action.id) || action.gate.state !== 'allowed') continue;
    const dep = action.dependsOn.find((d) => holds.has(d));
    if (dep) holds.set(action.id, { ...(holds.get(dep) as Extract<ActionGate, { state: 'held' }>), reason: `waits for ${dep}` });
  }
  return actions.map((action) => {
    const hold = holds.get(action.id);
    if (hold) {
      const rest = { ...action, gate: hold };
      delete rest.rollout;
      return rest;
    }
    const step = steps.get(action.id);
    if (step) return { ...action, rollout: step };
    if (action.rollout === undefined) return action;
    const rest = { ...action };
    delete rest.rollout;
    return rest;
  });
}

/** One batch of one rollout, for plan output: `batch 1 of 3: web-1, web-2`. */
export interface RolloutBatch {
  policy: string;
  batch: number;
  batches: number;
  maxUnavailable: number;
  healthyAfter: number;
  names: string[];
}

/** The batches of every rollout in `actions`, by policy then batch number. */
export function rolloutBatches(actions: readonly Action[]): RolloutBatch[] {
  const byKey = new Map<string, RolloutBatch>();
  for (const a of actions) {
    if (!a.rollout) continue;
    const key = `${a.rollout.policy}\u0000${a.rollout.batch}`;
    let batch = byKey.get(key);
    if (!batch) {
      batch = { ...a.rollout, names: [] };
      byKey.set(key, batch);
    }
    if (!batch.names.includes(a.name)) batch.names.push(a.name);
  }
  return [...byKey.values()].sort((x, y) => (x.policy < y.policy ? -1 : x.policy > y.policy ? 1 : x.batch - y.batch));
}
