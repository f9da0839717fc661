/**
 * Anti-affinity as drift: members of an anti-affinity group that share a host while another enabled host
 * runs none of the group (and has the memory, disks and networks for one: plan/host-fit.ts) are planned
 * to move there by live migration. XAPI's rule is soft (xen-api `ocaml/xapi/xapi_vm_helpers.ml`, `rank_hosts_by_vm_cnt_in_group`):
 * when the pool has fewer hosts than members, sharing is allowed and nothing is planned.
 */
import type { HostRecord, Ref, VMRecord } from '../../model/observed.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { cannotRunOn } from '../../plan/host-fit.js';

/** One planned move: the VM, the host it leaves, the host it goes to. */
export interface Spread {
  vm: string;
  vmName: string;
  from: string;
  host: string;
  hostName: string;
}

const num = (v: unknown): number => Number(v) || 0;
const footprint = (vm: VMRecord): number => num(vm.memory_dynamic_min) + num(vm['memory_overhead']);

function freeMemory(ctx: PlanContext, host: HostRecord): number {
  let free = num(read(ctx, 'host_metrics', host['metrics'] as Ref)?.memory_total) - num(host['memory_overhead']);
  for (const ref of host.resident_VMs) {
    const vm = ctx.index.get('VM', ref);
    if (vm && (vm.power_state === 'Running' || vm.power_state === 'Paused')) free -= footprint(vm);
  }
  return free;
}

/** The moves that spread running members over hosts that run none of them. */
export function planSpread(ctx: PlanContext, members: [Ref, VMRecord][]): Spread[] {
  const running = members.filter(([, vm]) => vm.power_state === 'Running');
  const byHost = new Map<Ref, [Ref, VMRecord][]>();
  for (const m of running) byHost.set(m[1].resident_on, [...(byHost.get(m[1].resident_on) ?? []), m]);
  const empty = [...ctx.observed.records.host].filter(([r, h]) => h.enabled && !byHost.has(r));
  const free = new Map(empty.map(([r, h]) => [r, freeMemory(ctx, h)]));
  const moves: Spread[] = [];
  for (const [hostRef, list] of byHost) {
    for (const [, vm] of list.slice(1)) {
      const target = empty.find(([r, h]) => free.has(r) && free.get(r)! >= footprint(vm) && cannotRunOn(ctx, vm, h, r) === undefined);
      if (!target) continue;
      free.delete(target[0]); // one member per empty host
      moves.push({ vm: vm.uuid, vmName: vm.name_label, from: ctx.index.get('host', hostRef)?.name_label ?? hostRef, host: target[1].uuid, hostName: target[1].name_label });
    }
  }
  return moves;
}
