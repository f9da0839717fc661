import { applyPlan, type ApplyListener, type ApplyResult } from '../apply/executor.js';
import type { ApplyLogger } from '../apply/context.js';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../model/diagnostics.js';
import type { RawDocument } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import { liveInventoryFrom } from '../manifests/index.js';
import { ManifestCache } from '../manifests/parse-cache.js';
import { gatedPlanYielding } from '../plan/pipeline.js';
import type { PlanMemo } from '../plan/memo.js';
import type { FileStore } from './file-store.js';
import type { ApprovalLedger } from '../policy/approval-ledger.js';
import { checkAdmission } from '../policy/admission.js';
import { destructiveApproved } from '../policy/approval.js';
import { credentialChanges, operatorSecretSource } from '../config/credentials.js';
import type { XapiCaller } from '../xapi/caller.js';
import { reconcileOutcome } from './outcome.js';
import { snapshotView, type PoolView } from './pool-watch.js';
import { operatorChecks } from '../config/checks.js';
import { defaultConfig, type ControllerConfig } from '../config/index.js';
import type { OperatorLimits } from '../policy/settings.js';
import type { ReconcileFn, ReconcileInput, ReconcileOutcome } from './types.js';

/** What a reconciler needs besides the revision it is given each time. */
export interface ReconcilerDeps {
  /**
   * Approvals given through the API, and the first commit each action was held at; without one,
   * annotation approvals count at once (library use). The controller keeps one in its cache folder.
   */
  approvalLedger?: ApprovalLedger;
  /** The pool connection (instrumented for metrics by the caller). */
  caller: XapiCaller;
  /** The manifests folder as the operator named it, recorded in plans (`desired.source.path`). */
  root: string;
  /** Where the pool's state comes from; default: a full snapshot through `caller` each time. */
  pool?: PoolView;
  /** Repository identity (`xops.repo`), as `repoIdentity()` resolves it. */
  repo?: string;
  /**
   * The local manifests folder, when the source is one: relative secretRef files resolve against
   * it. Undefined for a Git source, where relative secret files are rejected (see `secrets.ts`).
   */
  localDir?: string;
  /** The clock maintenance windows are judged by; default: the system time. */
  now?: () => Date;
  /** The operator's configuration (secrets, protected objects); default: the built-in one. */
  config?: ControllerConfig;
  /** The operator's ceilings on adopt, prune and destructive; default: the configuration's limits. */
  limits?: OperatorLimits;
  /** Files holding xops' own credentials (password, webhook secret): never a secretRef's to name. */
  ownCredentialFiles?: string[];
  /** Further checks of a commit's documents; an error makes it invalid (a fleet: the Pool manifest's name). */
  documentChecks?: (documents: RawDocument[]) => Diagnostic[];
  /** Most actions running at once; default 8. */
  concurrency?: number;
  /** Delay before apply retries a failed action; default 250 ms. */
  retryDelayMs?: number;
  /** After this long, apply starts no further action (those run in the next reconcile); default: no limit. */
  applyTimeoutMs?: number;
  log?: ApplyLogger;
  /** Told about every plan made (after policies), before anything is applied: the CLI prints it. */
  onPlan?: (plan: Plan) => void;
  /** Told what apply did, when it ran. */
  onApplied?: (result: ApplyResult) => void;
  /** Apply progress, per action. */
  listener?: ApplyListener;
  /** Parsed and validated files kept between reconciles (shared with `POST /plan`); default: the reconciler's own. */
  manifestCache?: ManifestCache;
  /** Per-VM planning kept between reconciles (shared with `POST /plan`); default: none. */
  planMemo?: PlanMemo;
  /** Where each revision's files are kept by digest for `POST /plan` clients (see file-store.ts); default: none. */
  fileStore?: FileStore;
}

/**
 * Builds the function the loop calls for each reconcile:
 * `(input: { commit, files, signal? }) => Promise<ReconcileOutcome>`.
 *
 * One reconcile: observe the pool (a barrier on the long-lived event stream) → load the manifests
 * (references checked against the live pool) → admission → plan (against `repo`) → automation
 * policies (windows, budgets, approvals, drift heal/report, snapshots at `now()`) → apply the
 * allowed actions.
 *
 * Contract (the loop, /status and /metrics rely on it):
 * - never throws for user input problems: manifest or admission errors come back as `invalid`
 *   (the loop keeps the last good commit in force and does not retry);
 * - a runtime failure comes back as `{ ok: false, error }` (the loop retries with backoff); throwing
 *   is tolerated and treated the same way. Planner errors (a conflict with an unmanaged object, a
 *   reference the pool cannot satisfy) depend on the pool, not only the commit: they are failures,
 *   and like `xops apply` nothing is applied while they stand;
 * - `resources` lists every declared `Kind/name`, so /status can show untouched resources as synced;
 * - when `input.signal` aborts, apply finishes the actions in flight, starts no other, and returns.
 */
export function createReconciler(deps: ReconcilerDeps): ReconcileFn {
  const pool = deps.pool ?? snapshotView(deps.caller);
  const now = deps.now ?? (() => new Date());
  const config = deps.config ?? defaultConfig();
  const limits = deps.limits ?? config.limits;
  // Secrets are read only as the operator allows: relative files resolve inside secrets.dir.
  const secrets = operatorSecretSource(config, deps.ownCredentialFiles);
  const cache = deps.manifestCache ?? new ManifestCache();
  return async (input: ReconcileInput): Promise<ReconcileOutcome> => {
    deps.fileStore?.addAll(input.files, input.commit);
    const observed = await pool.observe(input.signal);
    const { desired, diagnostics } = cache.load(input.files, deps.root, { commit: input.commit, live: liveInventoryFrom(observed), limits: config.repository });
    const checked = hasErrors(diagnostics)
      ? diagnostics
      : [...diagnostics, ...checkAdmission(desired), ...operatorChecks(desired, config, deps.ownCredentialFiles), ...(deps.documentChecks?.(desired.documents) ?? [])];
    if (hasErrors(checked)) return { ok: false, invalid: checked.filter((d) => d.severity === 'error') };
    const resources = desired.documents.filter((d) => d.kind !== 'Policy').map((d) => d.address);

    const changedCredentials = await credentialChanges(desired, observed, config, secrets, deps.repo);
    const at = now();
    const ledger = deps.approvalLedger;
    // Yielding: a cold plan of 10,000 VMs would otherwise hold the event loop for seconds, and with
    // it lease renewals, health checks and the plan API.
    const plan = await gatedPlanYielding(desired, observed, checked, {
      now: at, repo: deps.repo, limits, protected: config.protected, changedCredentials,
      // Applied here and now, never saved: what a saved plan is checked against would go unread.
      objects: false,
      ...(deps.planMemo ? { memo: deps.planMemo } : {}),
      ...(ledger ? { approvals: ledger.approved(), ...(config.approvals.sameChange ? {} : { annotationCounts: ledger.countsAt(input.commit) }) } : {}),
    });
    if (ledger?.noteHeld(plan, input.commit)) await ledger.save();
    deps.onPlan?.(plan);

    // `checked` has no errors (or we returned above): any error here is the planner's.
    const planErrors = plan.diagnostics.filter((d) => d.severity === 'error');
    if (planErrors.length > 0) {
      return { ...reconcileOutcome(plan, [], resources), ok: false, error: planProblem(planErrors) };
    }
    if (plan.actions.length === 0) return reconcileOutcome(plan, [], resources);

    const deadline = deps.applyTimeoutMs !== undefined ? AbortSignal.timeout(deps.applyTimeoutMs) : undefined;
    const signal = deadline && input.signal ? AbortSignal.any([input.signal, deadline]) : (deadline ?? input.signal);
    const result = await applyPlan(plan, deps.caller, {
      repo: deps.repo,
      concurrency: deps.concurrency,
      retryDelayMs: deps.retryDelayMs,
      destructiveAllowed: (action) => limits.destructive && destructiveApproved(desired, action),
      secrets,
      log: deps.log,
      signal,
      listener: {
        ...deps.listener,
        started(action, attempt) {
          pool.applying(action.address);
          deps.listener?.started?.(action, attempt);
        },
      },
    });
    // Let the event stream catch up with our own changes before treating events as drift again.
    await pool.settle(signal).catch(() => undefined);
    deps.onApplied?.(result);
    const outcome = reconcileOutcome(plan, result.results, resources);
    if (deadline?.aborted && !input.signal?.aborted && result.results.some((r) => r.interrupted)) {
      const waiting = result.results.filter((r) => r.interrupted).length;
      return { ...outcome, ok: false, error: `apply ran past its ${Math.round(deps.applyTimeoutMs! / 1000)} s limit; ${waiting} action(s) not started run in the next reconcile` };
    }
    return outcome;
  };
}

function planProblem(errors: Diagnostic[]): string {
  const shown = errors.slice(0, 3).map(formatDiagnostic).join('; ');
  return `the plan has ${errors.length} error(s); nothing was applied: ${shown}${errors.length > 3 ? '; …' : ''}`;
}
