/**
 * Host maintenance from Git: `maintenance: true` drains a host (live-migrates every user VM to another enabled
 * host, as host.evacuate would) and disables it; `false` enables it again. The planner works out every
 * migration up front with the pool's own rules (xen-api `ocaml/xapi/xapi_host.ml`,
 * `compute_evacuation_plan_no_wlb`): targets are the other enabled hosts; a VM must see its disks' SRs and
 * its networks there; memory is bin-packed biggest first. A member of an anti-affinity VM_group goes to the
host running the fewest members of its group that has room (as XAPI ranks hosts for it), so a drain keeps
the group spread wherever capacity allows. A drain the pool cannot absorb, or one that would
 * leave HA unable to tolerate its configured host failures, is refused, not half done.
 */
import type { DesiredHost } from '../../model/desired.js';
import type { HostRecord, Ref, VMRecord } from '../../model/observed.js';
import { NULL_REF } from '../../model/observed.js';
import type { FieldChange, Refusal } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { addressOfResource, read } from '../../plan/context.js';
import { makeAction, objectRef } from '../../plan/changes.js';
import { cannotRunOn } from '../../plan/host-fit.js';

/** One planned live migration: the VM and the host it goes to. */
export interface PlannedMigration {
  vm: string;
  vmName: string;
  host: string;
  hostName: string;
}

/** `details` of a maintenance action: drain (with its migrations) or enable. */
export interface MaintenanceDetails {
  maintenance: boolean;
  migrations: PlannedMigration[];
}

const num = (v: unknown): number => Number(v) || 0;

/** What a VM needs free on a host to run there: dynamic_min plus XAPI's per-domain overhead. */
function footprint(vm: VMRecord): number {
  return num(vm.memory_dynamic_min) + num(vm['memory_overhead']);
}

/** Free memory as host.compute_free_memory counts it: total − host overhead − Σ(dynamic_min + overhead) of running guests. */
function freeMemory(ctx: PlanContext, host: HostRecord): number {
  const metrics = read(ctx, 'host_metrics', host['metrics'] as Ref);
  let free = num(metrics?.memory_total) - num(host['memory_overhead']);
  for (const ref of host.resident_VMs) {
    const vm = ctx.index.get('VM', ref);
    if (vm && (vm.power_state === 'Running' || vm.power_state === 'Paused')) free -= footprint(vm);
  }
  return free;
}

/** The anti-affinity VM_group a VM is in, if any (XAPI allows one group per VM). */
function antiAffinityGroup(ctx: PlanContext, vm: VMRecord): Ref | undefined {
  return ((vm['groups'] as Ref[] | undefined) ?? []).find((g) => ctx.index.get('VM_group', g)?.placement === 'anti_affinity');
}

/**
 * Running members of each anti-affinity group per host, as XAPI ranks hosts for a member
 * (xen-api `ocaml/xapi/xapi_vm_helpers.ml`, `host_to_vm_count_map`): a VM being migrated counts on
 * scheduled_to_be_resident_on, a running one on resident_on.
 */
function groupHostCounts(ctx: PlanContext): Map<Ref, Map<Ref, number>> {
  const out = new Map<Ref, Map<Ref, number>>();
  for (const [, vm] of ctx.observed.records.VM) {
    const group = antiAffinityGroup(ctx, vm);
    if (!group) continue;
    const scheduled = vm['scheduled_to_be_resident_on'] as Ref | undefined;
    const host = scheduled && scheduled !== NULL_REF ? scheduled : vm.power_state === 'Running' ? vm.resident_on : undefined;
    if (!host || host === NULL_REF) continue;
    const counts = out.get(group) ?? new Map<Ref, number>();
    counts.set(host, (counts.get(host) ?? 0) + 1);
    out.set(group, counts);
  }
  return out;
}

/** Hosts a Host manifest puts into maintenance: never a target. */
function drainedByManifest(ctx: PlanContext): Set<string> {
  return new Set(ctx.desired.hosts.filter((h) => h.spec.maintenance === true).map((h) => h.spec.name));
}

/**
 * Adds the maintenance action for one Host manifest: a drain listing every migration (or refusals when the
 * pool cannot absorb it), or an enable. Nothing when the host is already as asked.
 */
export function planMaintenance(ctx: PlanContext, doc: DesiredHost, ref: Ref, rec: HostRecord): void {
  const wanted = doc.spec.maintenance;
  if (wanted === undefined) return;
  const address = addressOfResource(doc);
  const self = objectRef('host', ref, rec.uuid);
  const userVMs = rec.resident_VMs.flatMap((r) => {
    const vm = ctx.index.get('VM', r);
    return vm && !vm.is_control_domain && (vm.power_state === 'Running' || vm.power_state === 'Paused') ? [[r, vm] as const] : [];
  });
  if (wanted === false) {
    if (rec.enabled) return;
    ctx.actions.push(makeAction({
      operation: 'update', resource: doc, detail: 'maintenance', objects: [self],
      changes: [{ path: 'spec.maintenance', from: true, to: false, disruption: 'none' }],
      reason: `maintenance over: ${rec.name_label} is enabled again (host.enable); VMs with affinity may move back`,
      details: { maintenance: false, migrations: [] } satisfies MaintenanceDetails,
    }));
    return;
  }
  if (!rec.enabled && userVMs.length === 0) return;
  const skip = drainedByManifest(ctx);
  const targets = [...ctx.observed.records.host].filter(([r, h]) => r !== ref && h.enabled && !skip.has(h.name_label) && !skip.has(h.uuid));
  const refusals: Refusal[] = [];
  const refuse = (path: string, reason: string) => refusals.push({ address, path, reason });
  const pool = [...ctx.observed.records.pool.values()][0];
  if (pool?.ha_enabled && targets.length < num(pool.ha_host_failures_to_tolerate) + 1) {
    refuse('spec.maintenance', `HA must tolerate ${pool.ha_host_failures_to_tolerate} host failure(s); with ${rec.name_label} disabled only ${targets.length} host(s) would be left to run protected VMs`);
  }
  if (targets.length === 0 && userVMs.length > 0) refuse('spec.maintenance', `no other enabled host can take the ${userVMs.length} VM(s) on ${rec.name_label} (NO_HOSTS_AVAILABLE)`);
  const free = new Map(targets.map(([r, h]) => [r, freeMemory(ctx, h)]));
  const members = groupHostCounts(ctx);
  const migrations: PlannedMigration[] = [];
  const sharing = new Map<string, { group: string; count: number }>();
  const ordered = [...userVMs].sort((a, b) => footprint(b[1]) - footprint(a[1]));
  for (const [vmRef, vm] of targets.length ? ordered : []) {
    read(ctx, 'VM', vmRef);
    const path = `spec.maintenance.migrations[${vm.name_label}]`;
    const blocked = targets.map(([r, h]) => cannotRunOn(ctx, vm, h, r)).find((why) => why !== undefined);
    if (blocked) {
      refuse(path, `VM '${vm.name_label}' cannot leave ${rec.name_label}: ${blocked}`);
      continue;
    }
    const need = footprint(vm);
    // A member of an anti-affinity group goes where the fewest members run, among the hosts with room; then most free memory.
    const group = antiAffinityGroup(ctx, vm);
    const counts = group ? members.get(group) : undefined;
    const count = (r: Ref) => counts?.get(r) ?? 0;
    const best = targets.filter(([r]) => free.get(r)! >= need).sort((a, b) => count(a[0]) - count(b[0]) || free.get(b[0])! - free.get(a[0])!)[0];
    if (!best) {
      refuse(path, `VM '${vm.name_label}' needs ${Math.ceil(need / 2 ** 20)} MiB and no other enabled host has that much free (HOST_NOT_ENOUGH_FREE_MEMORY)`);
      continue;
    }
    free.set(best[0], free.get(best[0])! - need);
    if (group && counts) {
      if (count(best[0]) > 0) sharing.set(vm.uuid, { group: ctx.index.get('VM_group', group)?.name_label ?? group, count: count(best[0]) });
      counts.set(best[0], count(best[0]) + 1);
      counts.set(ref, Math.max(0, (counts.get(ref) ?? 0) - 1));
    }
    migrations.push({ vm: vm.uuid, vmName: vm.name_label, host: best[1].uuid, hostName: best[1].name_label });
  }
  if (refusals.length > 0) {
    ctx.refused.push(...refusals);
    return;
  }
  const changes: FieldChange[] = [
    ...(rec.enabled ? [{ path: 'spec.maintenance', from: false, to: true, disruption: 'none' as const }] : []),
    ...migrations.map((m) => {
      const shared = sharing.get(m.vm);
      const why = shared ? `; beside ${shared.count} other member(s) of anti-affinity group ${shared.group}: no host without one has room` : '';
      return { path: `spec.maintenance.migrations[${m.vmName}]`, from: rec.name_label, to: m.hostName, disruption: 'none' as const, reason: `live migration: the VM keeps running${why}` };
    }),
  ];
  ctx.actions.push(makeAction({
    operation: 'update', resource: doc, detail: 'maintenance', changes,
    objects: [self, ...userVMs.map(([r, vm]) => objectRef('VM', r, vm.uuid))],
    reason: `maintenance: ${rec.name_label} is disabled and drained, ${migrations.length} VM(s) live-migrated`,
    details: { maintenance: true, migrations } satisfies MaintenanceDetails,
  }));
}
