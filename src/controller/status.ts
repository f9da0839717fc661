import { formatDiagnostic, type Diagnostic } from '../model/diagnostics.js';
import type { DriftReport, HeldAction, ReconcileOutcome, TriggerReason } from './types.js';

/** Where one declared (or deleted) resource stands after the last reconcile. */
export interface ResourceSyncState {
  address: string;
  /**
   * `synced`: the pool matches; `progressing`: planned but not applied yet; `missing`: its object
   * does not exist in the pool and its create has not run yet; `drifted`: changed
   * behind xops' back and only reported; `held`: a policy keeps its action back; `refused`: the
   * planner will not make a change the manifest asks for (a shrink, an SR move, no room on any host
   * or SR, a delete of something still in use); `denied`: an admission rule rejects the manifest;
   * `failed`: its action failed, or the planner could not plan it (a conflict, a reference the pool
   * cannot satisfy). `reason` says why for every state but synced.
   */
  state: 'synced' | 'progressing' | 'missing' | 'held' | 'drifted' | 'refused' | 'denied' | 'failed';
  reason?: string;
  /** A VM's IP addresses as its guest agent reported them when the last plan was made (VM_guest_metrics.networks). */
  addresses?: string[];
}

/** The last reconcile, as `/status` shows it. */
export interface ReconcileSummary {
  trigger: TriggerReason[];
  commit: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  result: 'success' | 'failure' | 'invalid';
  error?: string;
  actions: { planned: number; applied: number; failed: number; held: number };
}

/**
 * The JSON body of `GET /status`. Fields are only ever added, never renamed: dashboards and the
 * end-to-end tests read it.
 */
export interface ControllerStatus {
  pool?: string;
  source: {
    description: string;
    /** Newest revision read from the source (may be rejected). */
    latestCommit?: string;
    lastSyncAt?: string;
    lastSyncError?: string;
  };
  /** The commit in force: the last one that was valid. */
  commit?: string;
  /** The newest commit, when it was invalid, and why. The pool stays on `commit`. */
  rejected?: { commit: string; at: string; diagnostics: string[] };
  lastReconcile?: ReconcileSummary;
  consecutiveFailures: number;
  nextRetryAt?: string;
  resources: ResourceSyncState[];
  held: HeldAction[];
  drift: DriftReport[];
  lastError?: { at: string; message: string };
  lease?: { holder: string; held: boolean; heldBy?: string; expiresAt?: string };
  xapi: { reachable: boolean; lastError?: string };
  /** True while this instance does not act (lease held elsewhere, or shutting down). */
  standby?: string;
}

/** Precedence when several things are said about one resource: the most alarming wins. */
const STATE_RANK: Record<ResourceSyncState['state'], number> = { synced: 0, progressing: 1, missing: 2, drifted: 3, held: 4, refused: 5, denied: 6, failed: 7 };

/**
 * Per-resource sync state from one reconcile's outcome: declared resources start synced, then
 * planned actions make them pending, drift reported-only makes them drifted, held actions held and
 * failed actions failed; an applied action settles its resource back to synced unless something
 * worse was said about it.
 */
export function resourceStates(outcome: ReconcileOutcome): ResourceSyncState[] {
  const states = new Map<string, ResourceSyncState>();
  const say = (address: string, state: ResourceSyncState['state'], reason?: string) => {
    const prior = states.get(address);
    if (!prior || STATE_RANK[state] > STATE_RANK[prior.state]) states.set(address, { address, state, ...(reason ? { reason } : {}) });
  };
  for (const address of outcome.resources ?? []) say(address, 'synced');
  const applied = new Map((outcome.applied ?? []).map((a) => [a.id, a]));
  for (const action of outcome.plan?.actions ?? []) {
    const result = applied.get(action.id);
    if (result?.ok) say(action.address, 'synced');
    else if (!result && action.gate.state !== 'held') say(action.address, action.operation === 'create' ? 'missing' : 'progressing', action.reason);
  }
  for (const r of outcome.plan?.refused ?? []) say(r.address, 'refused', `${r.path}: ${r.reason}`);
  // A resource the planner could not plan (a conflict, a reference the pool cannot satisfy) is not in sync either.
  for (const d of outcome.plan?.diagnostics ?? []) if (d.severity === 'error' && d.address) say(d.address, 'failed', d.message);
  for (const d of outcome.drift ?? []) if (!d.healed) say(d.address, 'drifted', `changed outside xops: ${d.paths.join(', ')}`);
  for (const h of outcome.held ?? []) say(h.address, 'held', `${h.policy}: ${h.reason}`);
  for (const a of outcome.applied ?? []) say(a.address, a.ok ? 'synced' : 'failed', a.error);
  for (const [address, guest] of Object.entries(outcome.plan?.guests ?? {})) {
    const s = states.get(address);
    if (s) s.addresses = [...guest.addresses];
  }
  return [...states.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/**
 * The resources with those an admission rule denies in the rejected commit marked `denied` (with
 * the rule's message); the others keep the state the commit in force left them in.
 */
export function withDenied(resources: readonly ResourceSyncState[], invalid: readonly Diagnostic[]): ResourceSyncState[] {
  const denied = new Map<string, string>();
  for (const d of invalid) if (d.code === 'admission' && d.severity === 'error' && d.address && !denied.has(d.address)) denied.set(d.address, d.message);
  if (denied.size === 0) return [...resources];
  const out = resources.filter((r) => !denied.has(r.address));
  for (const [address, reason] of denied) out.push({ address, state: 'denied', reason });
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** Mutable holder of the status; the loop and lease write it, the HTTP server reads it. */
export class StatusStore {
  private readonly state: ControllerStatus;

  constructor(sourceDescription: string, pool?: string) {
    this.state = { pool, source: { description: sourceDescription }, consecutiveFailures: 0, resources: [], held: [], drift: [], xapi: { reachable: false } };
  }

  /** A deep copy, safe to serialise while the loop keeps running. */
  snapshot(): ControllerStatus {
    return structuredClone(this.state);
  }

  /**
   * `/readyz`: XAPI reachable, the source synced at least once with its last sync succeeding, and a
   * valid commit in force.
   */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.state.xapi.reachable) reasons.push(`xapi not reachable${this.state.xapi.lastError ? `: ${this.state.xapi.lastError}` : ''}`);
    if (!this.state.source.latestCommit) reasons.push('source not synced yet');
    else if (this.state.source.lastSyncError) reasons.push(`source sync failing: ${this.state.source.lastSyncError}`);
    // Ready means a commit is in force: a first commit that was rejected leaves the pool unmanaged.
    if (this.state.source.latestCommit && !this.state.commit) {
      reasons.push(this.state.rejected ? `no commit in force: ${this.state.rejected.commit} is invalid (see /status .rejected)` : 'no commit applied yet');
    }
    return { ready: reasons.length === 0, reasons };
  }

  sourceSynced(commit: string, at: Date): void {
    this.state.source.latestCommit = commit;
    this.state.source.lastSyncAt = at.toISOString();
    delete this.state.source.lastSyncError;
  }

  sourceFailed(message: string, at: Date): void {
    this.state.source.lastSyncError = message;
    this.error(message, at);
  }

  xapiReachable(reachable: boolean, error?: string): void {
    this.state.xapi = reachable ? { reachable } : { reachable, lastError: error };
  }

  lease(lease: ControllerStatus['lease']): void {
    this.state.lease = lease;
  }

  standby(reason: string | undefined): void {
    if (reason) this.state.standby = reason;
    else delete this.state.standby;
  }

  error(message: string, at: Date): void {
    this.state.lastError = { at: at.toISOString(), message };
  }

  retryScheduled(failures: number, at: Date | undefined): void {
    this.state.consecutiveFailures = failures;
    if (at) this.state.nextRetryAt = at.toISOString();
    else delete this.state.nextRetryAt;
  }

  /** Records a finished reconcile and what it says about the pool and the commit. */
  reconciled(summary: ReconcileSummary, outcome: ReconcileOutcome, at: Date): void {
    this.state.lastReconcile = summary;
    if (summary.result === 'invalid') {
      this.state.rejected = { commit: summary.commit, at: at.toISOString(), diagnostics: (outcome.invalid ?? []).map(formatDiagnostic) };
      this.state.resources = withDenied(this.state.resources, outcome.invalid ?? []);
      this.error(`commit ${summary.commit} is invalid (${outcome.invalid?.length ?? 0} problems); staying on ${this.state.commit ?? 'no commit'}`, at);
      return;
    }
    this.state.commit = summary.commit;
    // The rejection stays visible until the source moves past the rejected commit.
    if (this.state.rejected && this.state.source.latestCommit !== this.state.rejected.commit) delete this.state.rejected;
    this.state.resources = resourceStates(outcome);
    this.state.held = outcome.held ?? [];
    this.state.drift = outcome.drift ?? [];
    if (summary.error) this.error(summary.error, at);
  }
}
