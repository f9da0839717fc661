/**
 * Host memory accounting the way XAPI's master does it (xen-api ocaml/xapi/memory_check.ml and the memory model in
 * ocaml/xapi-idl/memory/memory.ml), so a planner that asks `host.compute_free_memory` or reads `memory_overhead`
 * gets the figures a real pool would give.
 *
 * - A VM's `memory_overhead` is the shadow/p2m/vCPU overhead of its domain, derived from static_max and VCPUs_max.
 * - Starting a VM needs its footprint: dynamic_min (XAPI's start policy for HVM and PV guests) plus that overhead,
 *   rounded up to MiB; HOST_NOT_ENOUGH_FREE_MEMORY carries [needed, available] in bytes.
 * - `host.compute_free_memory` is total - host overhead - Σ(dynamic_min + overhead) of resident domains ("maximum
 *   compression": it assumes every guest balloons down).
 * - `host_metrics.memory_free` is what Xen reports: total - host overhead - Σ(memory_actual + overhead), where
 *   memory_actual is the domain's current allocation (dynamic_max in the simulator, which does not balloon).
 */
import type { SimDatabase } from '../database.js';
import { fail } from '../errors.js';

const MiB = 1024 ** 2;
const PAGES_PER_MIB = 256;

const mibUsed = (bytes: number): number => Math.ceil(bytes / MiB);
const mibOfPagesUsed = (pages: number): number => Math.ceil(pages / PAGES_PER_MIB);

/** The domain overhead of a VM record in bytes (XAPI's Memory_model.overhead_mib, HVM/PVH vs PV data). */
export function vmMemoryOverhead(rec: Record<string, unknown>): number {
  const staticMaxMib = mibUsed(Number(rec.memory_static_max) || 0);
  const vcpus = Math.max(1, Number(rec.VCPUs_max) || 1);
  const pv = rec.domain_type === 'pv';
  const multiplier = pv ? 1 : Number(rec.HVM_shadow_multiplier) || 1;
  const shadowMib = Math.max(1, Math.floor(mibOfPagesUsed(256 * vcpus + 2 * staticMaxMib) * multiplier));
  const extraInternal = pv ? 0 : 1;
  const extraExternal = 1;
  return (extraInternal + extraExternal + shadowMib + mibOfPagesUsed(38 * vcpus)) * MiB;
}

/** Bytes a host must have free to start this VM (XAPI's vm_compute_start_memory with the Dynamic_min policy). */
export function vmStartFootprint(rec: Record<string, unknown>): number {
  return mibUsed(Number(rec.memory_dynamic_min) || 0) * MiB + vmMemoryOverhead(rec);
}

function residentDomains(db: SimDatabase, host: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const vm of db.record(host).resident_VMs as string[]) {
    const r = db.get(vm)?.rec;
    if (r && (r.power_state === 'Running' || r.power_state === 'Paused')) out.push(r);
  }
  return out;
}

function guestCapacity(db: SimDatabase, host: string): number {
  const h = db.record(host);
  const total = Number(db.get(h.metrics as string)?.rec.memory_total) || 0;
  return total - (Number(h.memory_overhead) || 0);
}

/** What `host.compute_free_memory` answers: free memory if every resident guest balloons down to dynamic_min. */
export function hostComputeFreeMemory(db: SimDatabase, host: string): number {
  let used = 0;
  for (const r of residentDomains(db, host)) used += (Number(r.memory_dynamic_min) || 0) + (Number(r.memory_overhead) || 0);
  return Math.max(0, guestCapacity(db, host) - used);
}

/** What the host reports in host_metrics.memory_free: free memory given what domains hold right now. */
export function hostReportedFreeMemory(db: SimDatabase, host: string): number {
  let used = 0;
  for (const r of residentDomains(db, host)) {
    const actual = Number(db.get(r.metrics as string)?.rec.memory_actual) || Number(r.memory_dynamic_max) || 0;
    used += actual + (Number(r.memory_overhead) || 0);
  }
  return Math.max(0, guestCapacity(db, host) - used);
}

/** Throws HOST_NOT_ENOUGH_FREE_MEMORY [needed, available] unless `host` can start a VM with record `rec`. */
export function assertMemoryFits(db: SimDatabase, rec: Record<string, unknown>, host: string): void {
  const needed = vmStartFootprint(rec);
  const available = hostComputeFreeMemory(db, host);
  if (needed > available) throw fail('HOST_NOT_ENOUGH_FREE_MEMORY', needed, available);
}

/** Keeps host_metrics.memory_free in step with the domains on `host` (no-op for anything but a host). */
export function refreshHostMemory(db: SimDatabase, host: string): void {
  const h = db.get(host);
  if (!h || h.cls.name !== 'host') return;
  const m = db.get(h.rec.metrics as string);
  if (!m) return;
  const free = hostReportedFreeMemory(db, host);
  if (m.rec.memory_free !== free) db.set(m.ref, 'memory_free', free);
}

/** Recomputes a VM's memory_overhead after its static_max, VCPUs_max or shadow multiplier changed. */
export function refreshVmOverhead(db: SimDatabase, vm: string): void {
  const rec = db.record(vm);
  const overhead = vmMemoryOverhead(rec);
  if (rec.memory_overhead !== overhead) db.set(vm, 'memory_overhead', overhead);
}
