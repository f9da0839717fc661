/**
 * A small Prometheus metrics registry with text exposition (format 0.0.4), written by hand: xops
 * needs counters, gauges and histograms with labels, and nothing a client library adds beyond that.
 */

/** Label values by label name. */
export type Labels = Record<string, string>;

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k])}"`)
    .join(',');
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function series(name: string, key: string, value: number): string {
  return `${name}${key ? `{${key}}` : ''} ${formatValue(value)}`;
}

/** One number per label set: what counters and gauges have in common. */
abstract class LabelledValues implements Metric {
  abstract readonly type: 'counter' | 'gauge';
  protected readonly values = new Map<string, number>();
  readonly name: string;
  readonly help: string;
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  render(): string[] {
    return [...this.values].map(([key, v]) => series(this.name, key, v));
  }
}

/** A value that only goes up (reset on restart), per label set. */
export class Counter extends LabelledValues {
  readonly type = 'counter';
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
}

/** A value that goes up and down, per label set. */
export class Gauge extends LabelledValues {
  readonly type = 'gauge';
  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  get(labels: Labels = {}): number | undefined {
    return this.values.get(labelKey(labels));
  }
  /** Drops every label set, for gauges that describe "the current set of" something. */
  reset(): void {
    this.values.clear();
  }
}

/** Default buckets in seconds: XAPI calls take milliseconds, reconciles take seconds. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Observations counted into cumulative buckets, per label set. */
export class Histogram implements Metric {
  readonly type = 'histogram';
  private readonly data = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  constructor(name: string, help: string, buckets: readonly number[] = DEFAULT_BUCKETS) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
  }
  observe(value: number, labels: Labels = {}): void {
    const key = labelKey(labels);
    let d = this.data.get(key);
    if (!d) {
      d = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.data.set(key, d);
    }
    this.buckets.forEach((upper, i) => {
      if (value <= upper) d.counts[i]++;
    });
    d.sum += value;
    d.count++;
  }
  count(labels: Labels = {}): number {
    return this.data.get(labelKey(labels))?.count ?? 0;
  }
  render(): string[] {
    const lines: string[] = [];
    for (const [key, d] of this.data) {
      this.buckets.forEach((upper, i) => {
        lines.push(series(`${this.name}_bucket`, labelKey({ ...d.labels, le: formatValue(upper) }), d.counts[i]));
      });
      lines.push(series(`${this.name}_bucket`, labelKey({ ...d.labels, le: '+Inf' }), d.count));
      lines.push(series(`${this.name}_sum`, key, d.sum));
      lines.push(series(`${this.name}_count`, key, d.count));
    }
    return lines;
  }
}

/** Holds metrics in registration order and renders them as Prometheus text. */
export class Registry {
  private readonly metrics: Metric[] = [];
  private readonly collectors: (() => void)[] = [];
  /** Runs `fn` before every render: for gauges refilled from current state at scrape time. */
  beforeRender(fn: () => void): void {
    this.collectors.push(fn);
  }
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }
  /** The exposition text, `text/plain; version=0.0.4`. */
  render(): string {
    for (const collect of this.collectors) collect();
    const lines: string[] = [];
    for (const m of this.metrics) {
      lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return lines.join('\n') + '\n';
  }
  private add<M extends Metric>(metric: M): M {
    if (this.metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.push(metric);
    return metric;
  }
}

/** The controller's metrics, one instance per process (pools are told apart by the `pool` label). */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = this.registry.counter('xops_reconciles_total', 'Reconciles run, by result (success, failure, invalid).');
  readonly reconcileDuration = this.registry.histogram('xops_reconcile_duration_seconds', 'Time one reconcile took.');
  readonly reconcileCpu = this.registry.gauge('xops_last_reconcile_cpu_seconds', "CPU time (user + system) the process used while the last reconcile ran: observe, load, plan, apply (a fleet's other pools' work at the same time included).");
  readonly lastSuccess = this.registry.gauge('xops_last_successful_reconcile_timestamp_seconds', 'When the last successful reconcile finished (Unix time).');
  readonly driftDetected = this.registry.counter('xops_drift_detected_total', 'Managed objects found changed behind xops, by outcome (healed, reported).');
  readonly drifted = this.registry.gauge('xops_drifted_resources', 'Managed resources currently drifted and not healed.');
  readonly refused = this.registry.gauge('xops_refused_resources', 'Declared resources the last reconcile could not bring in line, by state (refused: a change the planner will not make; denied: an admission rule rejects the manifest).');
  readonly actions = this.registry.counter('xops_actions_total', 'Actions applied, by disruption and result (success, failure).');
  readonly held = this.registry.gauge('xops_actions_held', 'Actions held back by an automation policy in the last reconcile, by disruption.');
  readonly xapiCalls = this.registry.counter('xops_xapi_calls_total', 'XAPI calls made, by method and result (success or the XAPI error code).');
  readonly xapiLatency = this.registry.histogram('xops_xapi_call_duration_seconds', 'XAPI call latency, by method.');
  readonly sourceSyncs = this.registry.counter('xops_source_syncs_total', 'Source fetches/reads, by result (success, failure).');
  readonly commitInfo = this.registry.gauge('xops_source_commit_info', 'The commit in force (value 1), by commit.');
  readonly planRequests = this.registry.counter('xops_plan_requests_total', 'Sets planned for POST /plan clients, by how they came (overlay: a recent commit and what differs; files: every file, by digest or bytes).');
  readonly planCpu = this.registry.counter('xops_plan_cpu_seconds_total', 'CPU time (user + system) spent on answered POST /plan requests: reading the sets, load, plan and the answer (their synchronous parts: a reconcile running meanwhile is not counted).');
  readonly leaseHeld = this.registry.gauge('xops_lease_held', 'Whether this instance holds the pool lease (1) or stands by (0).');
}
