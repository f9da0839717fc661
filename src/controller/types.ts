import type { Diagnostic } from '../model/diagnostics.js';
import type { Disruption } from '../model/kinds.js';
import type { Plan } from '../model/plan.js';
import type { ManifestFile } from '../source/types.js';

/** What one reconcile works on: the manifests of one revision of the source. */
export interface ReconcileInput {
  /** Git commit id, or `local:<digest>` for a local folder. */
  commit: string;
  files: ManifestFile[];
  /**
   * Aborted when the controller shuts down: apply finishes the action in flight, starts no other,
   * and returns its outcome so far.
   */
  signal?: AbortSignal;
}

/** One action apply ran in this reconcile (successfully or not). */
export interface AppliedAction {
  id: string;
  address: string;
  disruption: Disruption;
  ok: boolean;
  /** Why it failed, one line; absent when ok. */
  error?: string;
  durationMs?: number;
}

/** An action an automation policy kept back, with the policy and its reason (from the plan's gate). */
export interface HeldAction {
  id: string;
  address: string;
  disruption: Disruption;
  policy: string;
  reason: string;
  /** When the maintenance window that releases it opens (ISO 8601), when a window holds it. */
  releasesAt?: string;
}

/** A managed object found changed behind xops' back. */
export interface DriftReport {
  address: string;
  /** Manifest paths that drifted, e.g. `spec.memory`. */
  paths: string[];
  /** True when this reconcile put it back (policy `drift: heal`); false when only reported. */
  healed: boolean;
}

/**
 * What a reconcile reports back to the loop. The loop, `/status` and `/metrics` read only this.
 * - `ok: true`: the commit was valid and the reconcile ran to the end (some actions may be held or
 *   drift only reported; failed actions make it `ok: false` with `error`).
 * - `invalid`: the commit's manifests or admission policies have errors; nothing was applied. The
 *   loop keeps the last good commit in force and does not retry this commit (it cannot get better).
 * - `error` without `invalid`: a runtime failure (pool unreachable, an action failed); the loop
 *   retries with backoff.
 */
export interface ReconcileOutcome {
  ok: boolean;
  invalid?: Diagnostic[];
  plan?: Plan;
  applied?: AppliedAction[];
  held?: HeldAction[];
  drift?: DriftReport[];
  /** One line, already redacted. */
  error?: string;
  /** `Kind/name` of every resource the commit declares, so resources with nothing to do show as synced. */
  resources?: string[];
}

/** Reconciles one revision against the pool. Injected into the loop (see `reconcile.ts`). */
export type ReconcileFn = (input: ReconcileInput) => Promise<ReconcileOutcome>;

/** Timers the loop and the lease use, injectable so tests control time. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    // Timers never keep the process alive by themselves: the HTTP server and signals do.
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Why a reconcile was asked for. Triggers only say "look again"; they carry no changes. */
export type TriggerReason = 'startup' | 'poll' | 'webhook' | 'file-change' | 'xapi-event' | 'resync' | 'retry' | 'window';
