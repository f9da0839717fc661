import type { ObservedIndex } from '../../model/observed-index.js';
import type { HostRecord, Ref, SRRecord } from '../../model/observed.js';

/**
 * Capacity preflight: whether a VM about to start fits a host and whether new disk space fits its
 * SR, judged from one snapshot. Pure functions of plain figures, so that apply can re-check with
 * figures it reads at execution time. A figure the snapshot lacks (no host_metrics, an SR that
 * reports no size) is unknown and never refuses: XAPI has the last word then.
 */

/** What one host can give a VM about to start. */
export interface HostRoom {
  ref: Ref;
  name: string;
  enabled: boolean;
  /** Bytes left for new guests (host_metrics.memory_free), minus what this plan already placed there. */
  freeMemory?: number;
  /** Physical CPUs (cpu_info.cpu_count): a VM cannot start with more vCPUs (HOST_NOT_ENOUGH_PCPUS). */
  cpus?: number;
}

/** What a VM needs to start: its memory (dynamic max) and its vCPUs at startup. */
export interface StartNeed {
  memory: number;
  vcpus: number;
}

/**
 * Where the VM would start, or why it cannot, and which of its needs (`short`) no host meets. With an
 * anti-affinity group, `sharing` is how many running members of the group are already on the host
 * chosen (0: the group's placement is honoured).
 */
export type Placement = { ok: true; host: HostRoom; sharing?: number } | { ok: false; reason: string; short: 'memory' | 'vcpus' | 'host' };

/** Bytes for people, rounded: "58 GiB", "1.5 TiB", "700 MiB". */
export function roundBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (i < units.length - 1 && Math.abs(v) >= 1024) {
    v /= 1024;
    i++;
  }
  const shown = Number.isInteger(v) || v >= 100 ? String(Math.floor(v)) : String(Math.floor(v * 10) / 10);
  return `${shown} ${units[i]}`;
}

/** A host's room as the snapshot has it (before this plan's reservations). */
export function hostRoom(index: ObservedIndex, ref: Ref, host: HostRecord): HostRoom {
  const metrics = host.metrics ? index.get('host_metrics', host.metrics) : undefined;
  const free = metrics && typeof metrics.memory_free === 'number' ? metrics.memory_free : undefined;
  const count = Number((host['cpu_info'] as Record<string, string> | undefined)?.['cpu_count']);
  return {
    ref,
    name: host.name_label,
    enabled: host.enabled !== false,
    ...(free !== undefined ? { freeMemory: free } : {}),
    ...(Number.isInteger(count) && count > 0 ? { cpus: count } : {}),
  };
}

function fits(need: StartNeed, host: HostRoom): boolean {
  return host.enabled && (host.freeMemory === undefined || host.freeMemory >= need.memory) && (host.cpus === undefined || host.cpus >= need.vcpus);
}

function shortOn(need: StartNeed, host: HostRoom): string {
  if (!host.enabled) return `${host.name} is disabled`;
  if (host.cpus !== undefined && host.cpus < need.vcpus) return `${host.name} has ${host.cpus} physical CPUs`;
  return `${host.name} has ${roundBytes(host.freeMemory ?? 0)} of memory free`;
}

/**
 * Picks the host a VM starts on: `affinity` only when given (apply starts it there with
 * VM.start_on), else the enabled host with the most free memory that fits. For a member of an
 * anti-affinity group, `members` counts the group's running members per host, and the host with the
 * fewest that fits wins (XAPI's own ranking, xen-api ocaml/xapi/xapi_vm_helpers.ml
 * `rank_hosts_by_vm_cnt_in_group`: a soft rule, so a host with members is still taken when no other
 * fits). Otherwise says why, in words a person can act on: "needs 100 GiB of memory; the largest free
 * host memory is 58 GiB on xcp-host2".
 */
export function placeVM(need: StartNeed, hosts: readonly HostRoom[], affinity?: HostRoom, members?: ReadonlyMap<Ref, number>): Placement {
  const wants = `needs ${roundBytes(need.memory)} of memory and ${need.vcpus} vCPU${need.vcpus === 1 ? '' : 's'} to start`;
  if (affinity) {
    return fits(need, affinity)
      ? { ok: true, host: affinity }
      : { ok: false, short: !affinity.enabled ? 'host' : affinity.cpus !== undefined && affinity.cpus < need.vcpus ? 'vcpus' : 'memory',
        reason: `${wants} on its host ${affinity.name}, but ${shortOn(need, affinity)}: free memory there, lower spec.memory/spec.vcpus, or choose another spec.host` };
  }
  const candidates = hosts.filter((h) => fits(need, h));
  if (candidates.length > 0) {
    const count = (h: HostRoom) => members?.get(h.ref) ?? 0;
    const fewest = Math.min(...candidates.map(count));
    const best = candidates.filter((h) => count(h) === fewest).reduce((a, b) => ((b.freeMemory ?? Infinity) > (a.freeMemory ?? Infinity) ? b : a));
    return members ? { ok: true, host: best, sharing: fewest } : { ok: true, host: best };
  }
  const enabled = hosts.filter((h) => h.enabled);
  if (enabled.length === 0) return { ok: false, short: 'host', reason: `${wants}, but no host is enabled` };
  const cpus = Math.max(...enabled.map((h) => h.cpus ?? Infinity));
  if (cpus < need.vcpus) {
    const most = enabled.find((h) => h.cpus === cpus)!;
    return { ok: false, short: 'vcpus', reason: `${wants}; the most physical CPUs on an enabled host is ${cpus} on ${most.name}: lower spec.vcpus` };
  }
  const roomy = enabled.filter((h) => h.cpus === undefined || h.cpus >= need.vcpus);
  const largest = roomy.reduce((a, b) => ((b.freeMemory ?? 0) > (a.freeMemory ?? 0) ? b : a));
  return { ok: false, short: 'memory', reason: `${wants}; the largest free host memory is ${roundBytes(largest.freeMemory ?? 0)} on ${largest.name}: free memory on a host or lower spec.memory` };
}

/** How an SR driver allocates space (xapi-project/sm: LVHD drivers preallocate, file-based ones are sparse VHD files). */
export type Provisioning = 'thick' | 'thin';

const THICK = new Set(['lvm', 'lvmoiscsi', 'lvmohba', 'lvmofcoe']);
const THIN = new Set(['nfs', 'ext', 'smb', 'file', 'cifs', 'xfs', 'zfs', 'glusterfs', 'cephfs', 'moosefs', 'largeblock']);

/** The SR's provisioning by driver type; undefined for drivers this table does not know (never refused). */
export function provisioningOf(sr: Pick<SRRecord, 'type'>): Provisioning | undefined {
  if (THICK.has(sr.type)) return 'thick';
  if (THIN.has(sr.type)) return 'thin';
  return undefined;
}

/**
 * Bytes a new disk may still take on the SR: a thick SR counts what is allocated to disks
 * (`virtual_allocation`: every disk takes its whole virtual size, LVHDSR._ensureSpaceAvailable in
 * xapi-project/sm), a thin one what is physically written (`physical_utilisation`). Undefined when
 * the SR reports no size (an ISO library, a fixture) or its driver is unknown.
 */
export function srFreeSpace(sr: SRRecord): number | undefined {
  const kind = provisioningOf(sr);
  const size = Number(sr.physical_size);
  if (!kind || !(size > 0)) return undefined;
  const used = Number(kind === 'thick' ? (sr['virtual_allocation'] ?? sr.physical_utilisation) : sr.physical_utilisation);
  return Math.max(0, size - (Number.isFinite(used) ? used : 0));
}

/**
 * Why `extra` more bytes (a new disk's size, or a grown disk's growth) do not fit the SR, given what
 * this plan already puts there (`reserved`); undefined when they fit or the free space is unknown.
 * A new disk must fit whole, even on a thin SR: a disk the SR cannot hold once written fills it.
 */
export function diskShortfall(sr: SRRecord, extra: number, reserved = 0): string | undefined {
  const free = srFreeSpace(sr);
  if (free === undefined) return undefined;
  const left = Math.max(0, free - reserved);
  if (extra <= left) return undefined;
  const counted = provisioningOf(sr) === 'thick' ? 'a thick SR: disks take their whole size' : 'a thin SR: counting what is written';
  const others = reserved > 0 ? ` after the ${roundBytes(reserved)} this plan already puts there` : '';
  return `needs ${roundBytes(extra)} on SR '${sr.name_label}' (${counted}), which has ${roundBytes(left)} free${others}: free space on it or choose another spec.disks[].sr`;
}

/** What HA must still be able to do: restart every protected VM after `tolerate` host failures. */
export interface HaPlan {
  /** `ha_host_failures_to_tolerate` of the pool (HA on). */
  tolerate: number;
  /** Each host's memory for guests (memory_total minus the host's own overhead). */
  hostMemory: readonly { name: string; bytes: number }[];
  /** Memory of the protected VMs (ha_restart_priority `restart`) that run, this plan's starts included. */
  protectedMemory: number;
}

/**
 * Why starting one more protected VM of `memory` bytes would leave HA unable to restart the
 * protected VMs after `tolerate` host failures, or undefined when it would not. A simple bound on
 * XAPI's failover planner (which packs VMs per host and refuses with
 * HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN): the protected VMs must fit in the memory of the hosts left
 * once the `tolerate` largest ones fail.
 */
export function haShortfall(plan: HaPlan, memory: number): string | undefined {
  if (plan.tolerate <= 0 || plan.hostMemory.length === 0) return undefined;
  const sorted = [...plan.hostMemory].sort((a, b) => b.bytes - a.bytes);
  const survivors = sorted.slice(plan.tolerate).reduce((sum, h) => sum + h.bytes, 0);
  const needed = plan.protectedMemory + memory;
  if (needed <= survivors) return undefined;
  const lost = sorted.slice(0, plan.tolerate).map((h) => h.name).join(', ');
  return `with HA tolerating ${plan.tolerate} host failure(s), the protected VMs would need ${roundBytes(needed)}, but only ${roundBytes(survivors)} is left once ${lost} fail: lower the pool's haHostFailuresToTolerate, give this VM another haRestartPriority, or add a host`;
}
