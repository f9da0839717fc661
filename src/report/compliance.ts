import { driftReports } from '../controller/drift.js';
import type { DesiredState } from '../model/desired.js';
import { repoMatches, type ObservedState, type XapiRecord } from '../model/observed.js';
import type { Action, Plan } from '../model/plan.js';
import { markOf } from '../plan/ownership-marks.js';

/**
 * Where one declared resource stands against the pool, most alarming first when several apply:
 * `refused` (the planner will not make the change), `denied` (an admission rule rejects it),
 * `failed` (the planner could not plan it: a conflict, an unsatisfiable reference), `drifted`
 * (changed behind xops' back since it was applied), `held` (a change is due and a Policy holds it),
 * `missing` (no object in the pool yet), `out-of-sync` (the manifest changed and is not applied yet),
 * `synced`.
 */
export type ComplianceState = 'refused' | 'denied' | 'failed' | 'drifted' | 'held' | 'missing' | 'out-of-sync' | 'synced';

export const COMPLIANCE_STATES: readonly ComplianceState[] = ['refused', 'denied', 'failed', 'drifted', 'held', 'missing', 'out-of-sync', 'synced'];

/** One field that differs: the manifest path, the pool's value and the manifest's (shortened past MAX_VALUE_CHARS). */
export interface ReportedField {
  path: string;
  pool: string;
  manifest: string;
}

/** One declared resource in the report. */
export interface ReportedResource {
  address: string;
  state: ComplianceState;
  /** Why, for every state but synced. */
  reason?: string;
  /** The fields that differ (drifted, held, out-of-sync). */
  fields?: ReportedField[];
}

/** An object in the pool, as the report names it. */
export interface PoolObject {
  cls: 'VM' | 'network' | 'SR';
  uuid: string;
  name: string;
  /** The address xops marked it with, for managed objects. */
  address?: string;
  /** The repository that manages it, when another one does. */
  repo?: string;
}

/**
 * A compliance report: every declared resource with its state, objects xops marked as managed that
 * no manifest declares any more, and the pool's objects xops does not manage. Plain data; fields
 * are only ever added.
 */
export interface ComplianceReport {
  formatVersion: 1;
  createdAt: string;
  /** The revision the manifests were read at (a Git commit), when known. */
  commit?: string;
  path: string;
  pool: { name: string; uuid: string };
  summary: Record<ComplianceState, number>;
  resources: ReportedResource[];
  /** Managed by this repository, declared by no manifest (prune would delete them). */
  undeclared: string[];
  /** VMs, networks and SRs without xops' mark, or marked by another repository. */
  unmanaged: PoolObject[];
}

const MAX_VALUE_CHARS = 200;

/**
 * The report from a gated plan (`gatedPlan`, at the report's time) of `desired` against `observed`.
 * Pure. Drift is the planner's rule (`action.drift`, see `driftReports`): a difference on an object
 * whose applied spec digest still matches its manifest.
 */
export function complianceReport(desired: DesiredState, observed: ObservedState, plan: Plan, opts: { commit?: string; path: string; repo?: string }): ComplianceReport {
  const declared = desired.documents.filter((d) => d.kind !== 'Policy').map((d) => d.address);
  const byAddress = new Map<string, ReportedResource>();
  const say = (address: string, state: ComplianceState, reason?: string, fields?: ReportedField[]) => {
    const prior = byAddress.get(address);
    if (prior && COMPLIANCE_STATES.indexOf(prior.state) <= COMPLIANCE_STATES.indexOf(state)) {
      if (fields?.length) prior.fields = [...(prior.fields ?? []), ...fields];
      return;
    }
    byAddress.set(address, { address, state, ...(reason ? { reason } : {}), ...(fields?.length || prior?.fields ? { fields: [...(prior?.fields ?? []), ...(fields ?? [])] } : {}) });
  };
  for (const address of declared) say(address, 'synced');
  const isDeclared = new Set(declared);
  for (const action of plan.actions) {
    if (!isDeclared.has(action.address)) continue;
    const fields = fieldsOf(action);
    if (action.gate.state === 'held') say(action.address, 'held', `${action.gate.policy}: ${action.gate.reason}`, fields);
    else if (action.operation === 'create') say(action.address, 'missing', action.reason);
    else say(action.address, 'out-of-sync', action.reason, fields);
  }
  for (const d of driftReports(plan, [])) if (isDeclared.has(d.address)) say(d.address, 'drifted', `changed outside xops: ${d.paths.join(', ')}`);
  for (const d of plan.diagnostics) {
    if (d.severity !== 'error' || !d.address || !isDeclared.has(d.address)) continue;
    say(d.address, d.code === 'admission' ? 'denied' : 'failed', d.message);
  }
  for (const r of plan.refused) say(r.address, 'refused', `${r.path}: ${r.reason}`);

  const resources = [...byAddress.values()].sort((a, b) => compare(a.address, b.address));
  const summary = Object.fromEntries(COMPLIANCE_STATES.map((s) => [s, 0])) as Record<ComplianceState, number>;
  for (const r of resources) summary[r.state]++;
  const undeclared = new Set<string>();
  for (const a of plan.actions) if (a.operation === 'delete' && !isDeclared.has(a.address)) undeclared.add(a.address);
  for (const d of plan.diagnostics) if (d.code === 'would-prune' && d.address) undeclared.add(d.address);
  const pool = observed.records.pool.values().next().value;
  return {
    formatVersion: 1,
    createdAt: plan.createdAt,
    ...(opts.commit ? { commit: opts.commit } : {}),
    path: opts.path,
    pool: { name: pool?.name_label ?? '', uuid: pool?.uuid ?? '' },
    summary,
    resources,
    undeclared: [...undeclared].sort(compare),
    unmanaged: unmanagedObjects(observed, opts.repo),
  };
}

/** The pool's VMs (not templates, snapshots or control domains), networks and SRs that this repository does not manage. */
export function unmanagedObjects(observed: ObservedState, repo: string | undefined): PoolObject[] {
  const out: PoolObject[] = [];
  const visit = (cls: PoolObject['cls'], records: Iterable<XapiRecord>) => {
    for (const rec of records) {
      const mark = markOf(rec);
      const name = String(rec['name_label'] ?? '');
      if (!mark.address) out.push({ cls, uuid: rec.uuid, name });
      else if (!repoMatches(mark.repo, repo)) out.push({ cls, uuid: rec.uuid, name, address: mark.address, repo: mark.repo });
    }
  };
  visit('VM', [...observed.records.VM.values()].filter((vm) => !vm.is_a_template && !vm.is_a_snapshot && !vm.is_control_domain));
  visit('network', observed.records.network.values());
  visit('SR', observed.records.SR.values());
  return out.sort((a, b) => compare(a.cls, b.cls) || compare(a.name, b.name) || compare(a.uuid, b.uuid));
}

function fieldsOf(action: Action): ReportedField[] {
  return action.changes.map((c) => ({ path: c.path, pool: shown(c.from), manifest: shown(c.to) }));
}

function shown(value: unknown): string {
  const text = value === undefined ? '(unset)' : typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
