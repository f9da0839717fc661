import { hasErrors } from '../model/diagnostics.js';
import { loadManifestFiles } from '../manifests/loader.js';
import type { XapiCaller } from '../xapi/caller.js';
import type { ReconcileFn, ReconcileInput, ReconcileOutcome } from './types.js';

/** What a reconciler needs besides the revision it is given each time. */
export interface ReconcilerDeps {
  /** The pool connection (instrumented for metrics by the caller). */
  caller: XapiCaller;
  /** The manifests folder as the operator named it, recorded in plans (`desired.source.path`). */
  root: string;
}

/**
 * Builds the function the loop calls for each reconcile:
 * `(input: { commit, files, signal? }) => Promise<ReconcileOutcome>`.
 *
 * Contract (the loop, /status and /metrics rely on it):
 * - never throws for user input problems: manifest or admission errors come back as `invalid`
 *   (the loop keeps the last good commit in force and does not retry);
 * - a runtime failure comes back as `{ ok: false, error }` (the loop retries with backoff); throwing
 *   is tolerated and treated the same way;
 * - `resources` lists every declared `Kind/name`, so /status can show untouched resources as synced;
 * - when `input.signal` aborts, apply finishes the action in flight, starts no other, and returns.
 *
 * This version only loads and validates the manifests; observing the pool, planning, automation
 * policies and apply are wired in here once those stages land (see docs/controller.md).
 */
export function createReconciler(deps: ReconcilerDeps): ReconcileFn {
  return async (input: ReconcileInput): Promise<ReconcileOutcome> => {
    const { desired, diagnostics } = loadManifestFiles(input.files, deps.root, { commit: input.commit });
    if (hasErrors(diagnostics)) return { ok: false, invalid: diagnostics.filter((d) => d.severity === 'error') };
    return { ok: true, resources: desired.documents.filter((d) => d.kind !== 'Policy').map((d) => d.address) };
  };
}
