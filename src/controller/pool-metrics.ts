import type { HostRecord, ObservedState, PIFRecord, SRRecord, VMRecord } from '../model/observed.js';
import type { Gauge, Labels, Registry } from './metrics.js';

/** Power states every VM count is reported for, zero included, so dashboards never see a gap. */
const POWER_STATES = ['Running', 'Halted', 'Suspended', 'Paused'] as const;

/** Default cap on the series of one per-object metric (hosts, SRs, PIFs). */
export const DEFAULT_MAX_SERIES = 500;

/** Options of the pool health metrics. */
export interface PoolMetricsOptions {
  /**
   * Object names come from the pool, so series are capped: per metric, at most this many objects
   * (by name, then uuid) are exported; `xops_pool_metrics_objects_omitted` counts the rest.
   */
  maxSeriesPerMetric?: number;
}

/** The pool health gauges, registered once in a registry and refilled from the observed state on every scrape. */
export class PoolMetrics {
  private readonly max: number;
  private readonly gauges: Gauge[] = [];
  private readonly g: ReturnType<PoolMetrics['register']>;

  constructor(registry: Registry, options: PoolMetricsOptions = {}) {
    this.max = Math.max(1, options.maxSeriesPerMetric ?? DEFAULT_MAX_SERIES);
    this.g = this.register(registry);
  }

  private register(r: Registry) {
    const gauge = (name: string, help: string) => {
      const g = r.gauge(name, help);
      this.gauges.push(g);
      return g;
    };
    return {
      observedAt: gauge('xops_pool_observed_timestamp_seconds', 'When the event-fed view of the pool was last brought up to date (Unix time).'),
      haEnabled: gauge('xops_pool_ha_enabled', 'Whether HA is enabled on the pool (pool.ha_enabled).'),
      haTolerate: gauge('xops_pool_ha_host_failures_to_tolerate', 'Host failures HA is configured to tolerate (pool.ha_host_failures_to_tolerate).'),
      haPlan: gauge('xops_pool_ha_plan_exists_for', 'Host failures the current HA plan covers (pool.ha_plan_exists_for).'),
      haOvercommitted: gauge('xops_pool_ha_overcommitted', 'Whether the pool is HA-overcommitted: the plan cannot cover the failures to tolerate (pool.ha_overcommitted).'),
      hostLive: gauge('xops_host_live', 'Whether the host is live (host_metrics.live).'),
      hostEnabled: gauge('xops_host_enabled', 'Whether the host is enabled for new VMs (host.enabled).'),
      hostMemTotal: gauge('xops_host_memory_total_bytes', 'Host memory (host_metrics.memory_total).'),
      hostMemFree: gauge('xops_host_memory_free_bytes', 'Host memory free (host_metrics.memory_free).'),
      hostCpus: gauge('xops_host_cpus', 'Host CPU count (host.cpu_info.cpu_count).'),
      hostVms: gauge('xops_host_resident_vms', 'Guest VMs resident on the host (host.resident_VMs, control domains not counted).'),
      srSize: gauge('xops_sr_size_bytes', 'SR size (SR.physical_size).'),
      srUsed: gauge('xops_sr_utilisation_bytes', 'SR space used (SR.physical_utilisation).'),
      srFree: gauge('xops_sr_free_bytes', 'SR space free (physical_size - physical_utilisation).'),
      srPbds: gauge('xops_sr_pbds', 'PBDs of the SR (one per host that may plug it).'),
      srPbdsAttached: gauge('xops_sr_pbds_attached', 'PBDs of the SR currently attached (PBD.currently_attached).'),
      vms: gauge('xops_vms', 'Guest VMs by power state (templates, snapshots and control domains not counted).'),
      pifCarrier: gauge('xops_pif_carrier', 'Whether a physical PIF has link (PIF_metrics.carrier).'),
      omitted: gauge('xops_pool_metrics_objects_omitted', 'Objects left out of the per-object metrics by the series cap, by class.'),
    };
  }

  /**
   * Replaces every pool series with what `state` says; with no state (no event stream yet, or this
   * instance stands by), the pool series are absent rather than stale.
   */
  update(state: ObservedState | undefined): void {
    for (const g of this.gauges) g.reset();
    if (!state) return;
    const { g } = this;
    const r = state.records;
    const poolRecord = r.pool.values().next().value;
    const pool = poolRecord ? poolRecord.name_label || poolRecord.uuid : '';
    const base: Labels = { pool };
    g.observedAt.set(Date.parse(state.observedAt) / 1000, base);
    if (poolRecord) {
      g.haEnabled.set(poolRecord.ha_enabled ? 1 : 0, base);
      g.haTolerate.set(num(poolRecord.ha_host_failures_to_tolerate), base);
      g.haPlan.set(num(poolRecord['ha_plan_exists_for']), base);
      g.haOvercommitted.set(poolRecord['ha_overcommitted'] === true ? 1 : 0, base);
    }

    const hosts = this.capped('host', [...r.host.values()], base);
    for (const host of hosts) {
      const labels = { ...base, host: host.name_label, uuid: host.uuid };
      const metrics = r.host_metrics.get(host['metrics'] as string);
      if (metrics) {
        g.hostLive.set(metrics.live ? 1 : 0, labels);
        g.hostMemTotal.set(num(metrics.memory_total), labels);
        g.hostMemFree.set(num(metrics.memory_free), labels);
      }
      g.hostEnabled.set(host.enabled ? 1 : 0, labels);
      const cpus = Number((host['cpu_info'] as Record<string, string> | undefined)?.cpu_count);
      if (Number.isFinite(cpus)) g.hostCpus.set(cpus, labels);
      g.hostVms.set(host.resident_VMs.filter((ref) => r.VM.get(ref)?.is_control_domain !== true).length, labels);
    }

    for (const sr of this.capped('SR', [...r.SR.values()], base)) {
      const labels = { ...base, sr: sr.name_label, uuid: sr.uuid, type: sr.type };
      const size = num(sr.physical_size);
      const used = num(sr.physical_utilisation);
      g.srSize.set(size, labels);
      g.srUsed.set(used, labels);
      g.srFree.set(size - used, labels);
      g.srPbds.set(sr.PBDs.length, labels);
      g.srPbdsAttached.set(sr.PBDs.filter((ref) => r.PBD.get(ref)?.currently_attached === true).length, labels);
    }

    const counts = new Map<string, number>(POWER_STATES.map((s) => [s, 0]));
    for (const vm of r.VM.values()) {
      if (!isGuest(vm)) continue;
      counts.set(vm.power_state, (counts.get(vm.power_state) ?? 0) + 1);
    }
    for (const [state, n] of counts) g.vms.set(n, { ...base, power_state: state });

    const physical = [...r.PIF.values()].filter((p) => p.physical);
    const hostName = (pif: PIFRecord) => r.host.get(pif.host)?.name_label ?? '';
    for (const pif of this.capped('PIF', physical, base, (p) => `${hostName(p)}\u0000${p.device}`)) {
      const metrics = r.PIF_metrics.get(pif['metrics'] as string);
      if (!metrics) continue;
      g.pifCarrier.set(metrics.carrier ? 1 : 0, { ...base, host: hostName(pif), device: pif.device, network: r.network.get(pif.network)?.name_label ?? '' });
    }
  }

  /** The first `max` objects in a stable order (name, then uuid); the number left out is exported. */
  private capped<T extends HostRecord | SRRecord | PIFRecord>(cls: string, objects: T[], base: Labels, name: (o: T) => string = (o) => String(o['name_label'] ?? '')): T[] {
    this.g.omitted.set(Math.max(0, objects.length - this.max), { ...base, class: cls });
    if (objects.length <= this.max) return objects;
    return objects
      .map((o) => ({ o, key: name(o) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.o.uuid < b.o.uuid ? -1 : 1))
      .slice(0, this.max)
      .map((x) => x.o);
  }
}

function isGuest(vm: VMRecord): boolean {
  return !vm.is_a_template && !vm.is_a_snapshot && !vm.is_control_domain;
}

/** XAPI ints above 2^53 stay strings after decoding; a gauge takes the nearest double. */
function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}
