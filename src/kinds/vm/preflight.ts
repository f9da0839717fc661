import type { DesiredVM } from '../../model/desired.js';
import type { Reference } from '../../model/manifest.js';
import type { Ref, VMRecord } from '../../model/observed.js';
import { NULL_REF } from '../../model/observed.js';
import { namedOrSelected } from '../../plan/members.js';
import type { PlanContext } from '../../plan/context.js';
import type { ResolvedReference } from '../../plan/refs.js';
import { hostsOfNetwork } from '../../plan/host-fit.js';
import { isPlainVM } from './compare.js';
import { diskShortfall, haShortfall, hostRoom, placeVM, roundBytes, type HaPlan, type HostRoom, type Placement, type StartNeed } from './capacity.js';

/**
 * The planner's side of the capacity preflight: one ledger per plan of what the VMs planned so far
 * take (host memory, SR bytes, HA's protected memory), so each VM is judged with the others this
 * plan starts or grows. The checks themselves are the pure functions of capacity.ts.
 */

/** What this plan has already placed: hosts' room after the VMs it starts, bytes it puts on each SR (by uuid). */
interface CapacityLedger {
  hosts: HostRoom[];
  sr: Map<string, number>;
  /** Per anti-affinity group (manifest name): running members per host, this plan's starts included. */
  groups: Map<string, Map<Ref, number>>;
  /** Where this plan starts each VM it creates (by manifest name), when a group had a say. */
  placed: Map<string, GroupPlacement>;
  /** With HA on (and every host's memory known): what failover must still cover. */
  ha?: HaPlan;
  /** Per host-internal network (uuid): the hosts this plan starts VMs of it on (plan/host-fit.ts). */
  internal: Map<string, Set<Ref>>;
}

/** HA as the plan leaves it (the Pool manifest's `ha` when declared, else the pool's), with what it protects today. */
function haPlanOf(ctx: PlanContext): HaPlan | undefined {
  const pool = ctx.observed.records.pool.values().next().value;
  const declared = ctx.desired.pool?.spec.ha;
  const enabled = declared?.enabled ?? pool?.ha_enabled ?? false;
  const tolerate = Number((declared?.enabled ? declared.hostFailuresToTolerate : undefined) ?? pool?.ha_host_failures_to_tolerate ?? 0);
  if (!enabled || !(tolerate > 0)) return undefined;
  const hostMemory: HaPlan['hostMemory'][number][] = [];
  for (const host of ctx.observed.records.host.values()) {
    const metrics = host.metrics ? ctx.index.get('host_metrics', host.metrics) : undefined;
    if (!metrics || typeof metrics.memory_total !== 'number') return undefined;
    hostMemory.push({ name: host.name_label, bytes: metrics.memory_total - Number(host['memory_overhead'] ?? 0) });
  }
  let protectedMemory = 0;
  for (const vm of ctx.observed.records.VM.values()) {
    if (isPlainVM(vm) && vm.ha_restart_priority === 'restart' && (vm.power_state === 'Running' || vm.power_state === 'Paused')) protectedMemory += vm.memory_dynamic_max;
  }
  return { tolerate, hostMemory, protectedMemory };
}

function ledger(ctx: PlanContext): CapacityLedger {
  // What earlier VMs reserved decides what this one may: its plan cannot be replayed alone.
  if (ctx.trace) ctx.trace.uncacheable = true;
  const key = 'vm:capacity';
  let l = ctx.memo.get(key) as CapacityLedger | undefined;
  if (!l) {
    l = { hosts: [...ctx.observed.records.host].map(([ref, h]) => hostRoom(ctx.index, ref, h)), sr: new Map(), groups: new Map(), placed: new Map(), ha: haPlanOf(ctx), internal: new Map() };
    ctx.memo.set(key, l);
  }
  return l;
}

/** Where a VM of an anti-affinity group starts: the host, the group, and how many members already run there. */
export interface GroupPlacement {
  host: { ref: Ref; uuid: string; name: string };
  group: string;
  /** Running members of the group already on that host (0: the placement is honoured). */
  sharing: number;
  /** Members the group declares, this VM included. */
  members: number;
  /** Why only some hosts could take the VM (its networks), when they did. */
  networks?: string;
}

/** A declared anti-affinity group: its manifest name and its members' references. */
interface AntiAffinityGroup {
  name: string;
  members: Reference[];
}

/**
 * The declared anti-affinity group that names or selects the VM (XAPI lets a VM be in one group only; the
 * first declared wins). Members are resolved once per plan, by the name a member reference uses.
 */
function antiAffinityGroupOf(ctx: PlanContext, vm: DesiredVM): AntiAffinityGroup | undefined {
  // Membership is over every VM manifest, not this one alone.
  if (ctx.trace) ctx.trace.uncacheable = true;
  const key = 'vm:anti-affinity';
  let byMember = ctx.memo.get(key) as Map<string, AntiAffinityGroup> | undefined;
  if (!byMember) {
    byMember = new Map();
    for (const g of ctx.desired.vmGroups) {
      if (g.spec.placement !== 'anti-affinity') continue;
      const group = { name: g.meta.name, members: namedOrSelected(g.spec.vms, g.spec.selector?.labels, ctx.desired.vms).map((m) => m.ref) };
      for (const m of group.members) if (!byMember.has(m.name)) byMember.set(m.name, group);
    }
    ctx.memo.set(key, byMember);
  }
  return byMember.get(vm.meta.name) ?? byMember.get(vm.spec.nameLabel);
}

/** The host a member runs on, as XAPI counts it: scheduled_to_be_resident_on while migrating, resident_on when running. */
function memberHost(rec: VMRecord): Ref | undefined {
  const scheduled = rec['scheduled_to_be_resident_on'] as Ref | undefined;
  if (scheduled && scheduled !== NULL_REF) return scheduled;
  return rec.power_state === 'Running' && rec.resident_on && rec.resident_on !== NULL_REF ? rec.resident_on : undefined;
}

/** Running members of a group per host, from the snapshot: members this repository manages, and live ones it names. */
function groupCounts(ctx: PlanContext, l: CapacityLedger, group: AntiAffinityGroup): Map<Ref, number> {
  let counts = l.groups.get(group.name);
  if (counts) return counts;
  counts = new Map();
  for (const m of group.members) {
    const owner = ctx.owners.get(`VM/${m.name}`);
    const rec = owner && (owner.state === 'managed' || owner.state === 'adopt')
      ? (owner.record as VMRecord)
      : m.target === 'live' ? (ctx.index.byUuid('VM', m.name)?.[1] ?? [...ctx.observed.records.VM.values()].find((v) => v.name_label === m.name && isPlainVM(v))) : undefined;
    const host = rec ? memberHost(rec) : undefined;
    if (host) counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  l.groups.set(group.name, counts);
  return counts;
}

/** Where this plan starts a VM it creates, when its anti-affinity group decided the host; undefined otherwise. */
export function groupPlacementOf(ctx: PlanContext, name: string): GroupPlacement | undefined {
  return ledger(ctx).placed.get(name);
}

/**
 * A start the plan makes: what the VM needs, whether HA protects it, and for a restart (apply halts
 * a running VM and starts it again) the memory it gives back on the host it leaves.
 */
export interface PlannedStart extends StartNeed {
  protected: boolean;
  /** A restart: the VM (running now, so not counted on its networks) gives back its memory on its host. */
  releases?: { host: Ref; memory: number; vm?: Ref };
  /** The networks the VM is on: it starts only on a host that has them all. */
  networks?: readonly ResolvedReference[];
}

/** A running VM's memory raised live: the bytes more it takes on the host it runs on. */
export interface LiveGrowth {
  host: Ref;
  bytes: number;
}

/** A capacity problem of one VM: the refusal's path and reason. */
export interface Shortfall {
  path: string;
  reason: string;
}

/**
 * Checks that what the VM's actions need fits the pool, counting what this plan already placed, and
 * books it when it does: the disks' new bytes on their SRs, a host when the VM is started (or
 * restarted), the growth of memory raised live on the host it runs on.
 * Returns the problems instead (nothing is booked then).
 */
export function reserveCapacity(
  ctx: PlanContext,
  vm: DesiredVM,
  disks: { name: string; bytes: number; sr: ResolvedReference }[],
  start: PlannedStart | undefined,
  affinity: ResolvedReference | undefined,
  grow?: LiveGrowth,
): Shortfall[] {
  // Nothing to book (most VMs of a plan): the ledger is neither read nor changed.
  if (!start && !grow && !disks.some((d) => d.sr.uuid && d.bytes > 0)) return [];
  const l = ledger(ctx);
  const problems: Shortfall[] = [];
  const booked = new Map<string, number>();
  for (const d of disks) {
    if (!d.sr.uuid || d.bytes <= 0) continue;
    const sr = ctx.index.byUuid('SR', d.sr.uuid)?.[1];
    if (!sr) continue;
    const reserved = (l.sr.get(d.sr.uuid) ?? 0) + (booked.get(d.sr.uuid) ?? 0);
    const short = diskShortfall(sr, d.bytes, reserved);
    if (short) problems.push({ path: `spec.disks[${d.name}]`, reason: `disk '${d.name}' ${short}` });
    else booked.set(d.sr.uuid, (booked.get(d.sr.uuid) ?? 0) + d.bytes);
  }
  const name = vm.spec.nameLabel;
  let host: HostRoom | undefined;
  // A restarted VM first gives back what it holds where it runs.
  const left = start?.releases ? l.hosts.find((h) => h.ref === start.releases!.host) : undefined;
  const released = left?.freeMemory !== undefined ? start!.releases!.memory : 0;
  if (left && released) left.freeMemory! += released;
  let group: (AntiAffinityGroup & { counts: Map<Ref, number> }) | undefined;
  if (start) {
    const pinned = affinity?.uuid ? l.hosts.find((h) => ctx.index.get('host', h.ref)?.uuid === affinity.uuid) : undefined;
    // A fresh start of a group member (not a restart, not pinned by spec.host) follows the group.
    const declared = !pinned && !start.releases ? antiAffinityGroupOf(ctx, vm) : undefined;
    if (declared) group = { ...declared, counts: groupCounts(ctx, l, declared) };
    // Only where every network of the VM is (XAPI's assert_can_see_networks).
    const reach = start.networks ? networkHosts(ctx, start.networks, l.internal, start.releases?.vm) : undefined;
    const hosts = reach ? l.hosts.filter((h) => reach.hosts.has(h.ref)) : l.hosts;
    // Why its networks left out some hosts, when they did.
    const narrowed = reach && hosts.length < l.hosts.length ? reach.why(undefined) : '';
    const placed = reach && pinned && !reach.hosts.has(pinned.ref)
      ? { ok: false as const, short: 'host' as const, reason: `cannot start on its host ${pinned.name}: ${reach.why(pinned.ref)} (VM_REQUIRES_NETWORK)` }
      : reach && hosts.length === 0
        ? { ok: false as const, short: 'host' as const, reason: `cannot start anywhere: no host has all its networks (${reach.why(undefined)}; VM_REQUIRES_NETWORK)` }
        : narrowedReason(placeVM(start, hosts, pinned, group?.counts), narrowed);
    if (placed.ok && reach) for (const net of reach.internal) (l.internal.get(net) ?? l.internal.set(net, new Set()).get(net)!).add(placed.host.ref);
    if (placed.ok && group) {
      const uuid = ctx.index.get('host', placed.host.ref)?.uuid ?? '';
      l.placed.set(vm.meta.name, { host: { ref: placed.host.ref, uuid, name: placed.host.name }, group: group.name, sharing: placed.sharing ?? 0, members: group.members.length, ...(narrowed ? { networks: narrowed } : {}) });
    }
    if (placed.ok) host = placed.host;
    else problems.push({ path: placed.short === 'vcpus' ? 'spec.vcpus' : placed.short === 'host' ? 'spec.host' : 'spec.memory', reason: `VM '${name}' ${placed.reason}` });
    const more = start.memory - (start.releases?.memory ?? 0);
    const ha = start.protected && l.ha && more > 0 ? haShortfall(l.ha, more) : undefined;
    if (ha) problems.push({ path: 'spec.haRestartPriority', reason: `VM '${name}': ${ha}` });
  }
  const runsOn = grow ? l.hosts.find((h) => h.ref === grow.host) : undefined;
  if (grow && runsOn?.freeMemory !== undefined && runsOn.freeMemory < grow.bytes) {
    problems.push({ path: 'spec.memory', reason: `VM '${name}' needs ${roundBytes(grow.bytes)} more memory on ${runsOn.name}, where it runs, but ${runsOn.name} has ${roundBytes(runsOn.freeMemory)} free: free memory there or lower spec.memory` });
  }
  if (problems.length > 0) {
    if (left && released) left.freeMemory! -= released;
    return problems;
  }
  for (const [uuid, bytes] of booked) l.sr.set(uuid, (l.sr.get(uuid) ?? 0) + bytes);
  if (host && host.freeMemory !== undefined) host.freeMemory -= start!.memory;
  if (host && group) group.counts.set(host.ref, (group.counts.get(host.ref) ?? 0) + 1);
  if (runsOn && runsOn.freeMemory !== undefined) runsOn.freeMemory -= grow!.bytes;
  if (start?.protected && l.ha) l.ha.protectedMemory += Math.max(0, start.memory - (start.releases?.memory ?? 0));
  return [];
}

/** A placement that failed among the hosts its networks left, saying so: room elsewhere is no room. */
function narrowedReason(placed: Placement, networks: string): Placement {
  return placed.ok || !networks ? placed : { ...placed, reason: `${placed.reason} (no other host has its networks: ${networks})` };
}

/** The name of the plain (host-internal) network the manifest at `address` creates, if it is one. */
function plainNetworkMade(ctx: PlanContext, address: string | undefined): string | undefined {
  if (!address?.startsWith('Network/')) return undefined;
  const net = ctx.desired.networks.find((d) => d.meta.name === address.slice('Network/'.length));
  if (!net || net.spec.vlan || net.spec.bond || net.spec.otherConfig['assume_network_is_shared'] === 'true') return undefined;
  return net.spec.nameLabel;
}

/**
 * The hosts that have every one of `networks` (plan/host-fit.ts hostsOfNetwork), counting the
 * hosts this plan already starts VMs of a host-internal network on (one this plan creates too);
 * undefined when none restricts. `internal`: the host-internal networks among them, by uuid (by
 * address for one this plan creates); `why`: which network a host lacks, in words.
 */
function networkHosts(ctx: PlanContext, networks: readonly ResolvedReference[], planned: ReadonlyMap<string, ReadonlySet<Ref>>, except?: Ref): { hosts: Set<Ref>; internal: string[]; why(host: Ref | undefined): string } | undefined {
  let hosts: Set<Ref> | undefined;
  const internal: string[] = [];
  const limits: { name: string; on: Set<Ref> }[] = [];
  for (const n of networks) {
    const found = n.uuid ? ctx.index.byUuid('network', n.uuid) : undefined;
    const made = found ? undefined : plainNetworkMade(ctx, n.address);
    if (!found && !made) continue;
    // A plain network this plan creates is host-internal, and no VM runs on it yet.
    const reach = found ? hostsOfNetwork(ctx, found[1], except) : { hosts: 'all' as const, internal: true };
    const key = found ? found[1].uuid : n.address!;
    // The hosts this plan starts others of an internal network on hold it too, once they run.
    const starts = reach.internal ? planned.get(key) : undefined;
    if (reach.internal) internal.push(key);
    if (reach.hosts === 'all' && !starts?.size) continue;
    const on = new Set([...(reach.hosts === 'all' ? [] : reach.hosts), ...(starts ?? [])]);
    limits.push({ name: found ? found[1].name_label : made!, on });
    hosts = hosts ? new Set([...hosts].filter((h) => on.has(h))) : on;
  }
  if (!hosts) return internal.length ? { hosts: new Set(ctx.observed.records.host.keys()), internal, why: () => '' } : undefined;
  const names = (refs: Iterable<Ref>) => [...refs].map((r) => ctx.index.get('host', r)?.name_label ?? r).join(', ') || 'none';
  return {
    hosts,
    internal,
    why: (host) => limits.filter((l) => host === undefined || !l.on.has(host)).map((l) => `network '${l.name}' is on ${names(l.on)} only`).join('; '),
  };
}
