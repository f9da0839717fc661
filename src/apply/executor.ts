import type { Action, Plan } from '../model/plan.js';
import { processSecretSource, type SecretSource } from '../secrets/index.js';
import type { XapiCaller } from '../xapi/caller.js';
import { KIND_REGISTRY, KINDS } from '../kinds/index.js';
import type { ResourceKind } from '../model/kinds.js';
import { silentLogger, systemApplyClock, type ApplyClock, type ApplyContext, type ApplyLogger } from './context.js';
import type { Applier } from './applier.js';
import { deadlineCaller } from './deadline.js';
import { ApplyError, isPermanent } from './errors.js';
import { settlePreviousTasks } from './inflight.js';
import { Lookup, type LookupKind } from './lookup.js';
import { RolloutHalts, rolloutPacing } from './rollout.js';
import { runJobs, type Job, type JobOutcome } from './scheduler.js';

/** Each resource kind's main class, and whether xops creates its objects (it has an owner rule). */
const LOOKUP_KINDS = Object.fromEntries(
  KIND_REGISTRY.filter((k) => k.classes.length > 0).map((k) => [k.kind, { cls: k.classes[0]!, created: k.owner !== undefined }]),
) as Record<ResourceKind, LookupKind>;

/** ApplyOptions.actionTimeoutMs's default: long enough for a VM.copy of large disks, short of forever. */
export const DEFAULT_ACTION_TIMEOUT_MS = 30 * 60_000;

/** What happened to one action of the plan. */
export type ActionState = 'succeeded' | 'failed' | 'skipped' | 'held';

/** One action's outcome, for the summary and exit code. `reason` says why it failed or did not run. */
export interface ActionResult {
  action: Action;
  state: ActionState;
  reason?: string;
  error?: unknown;
  ms?: number;
  attempts?: number;
  /** Skipped because the run was interrupted (ApplyOptions.signal) before it started: still pending. */
  interrupted?: boolean;
  /** For a `held` result apply itself decided (a halted rollout): the Policy that holds it. */
  heldBy?: string;
}

/** The outcome of an apply run. `ok` is true when no action failed or was skipped for a failure. */
export interface ApplyResult {
  results: ActionResult[];
  counts: Record<ActionState, number>;
  ok: boolean;
  ms: number;
}

/** Progress observers (the TTY display, the log). Called in the order things happen. */
export interface ApplyListener {
  started?(action: Action, attempt: number): void;
  retrying?(action: Action, attempt: number, error: unknown): void;
  /** An action a rollout paces went through and its VM is healthy: its `healthyAfter` wait begins now. */
  healthy?(action: Action): void;
  finished?(result: ActionResult): void;
}

export interface ApplyOptions {
  /** Repository identity written as `xops.repo`; objects marked by another repository are refused. */
  repo?: string;
  /** Most actions running at once; default 8. */
  concurrency?: number;
  /** Further attempts after a failure that may be transient (network, task failure); default 2. */
  retries?: number;
  /** Delay before the first retry, doubled after each; default 250 ms. */
  retryDelayMs?: number;
  /**
   * Whether a `destructive` action may run. Default: none may. The CLI allows those a policy
   * approved, or all with --allow-destructive.
   */
  destructiveAllowed?: (action: Action) => boolean;
  secrets?: SecretSource;
  log?: ApplyLogger;
  listener?: ApplyListener;
  /** How long to wait for creating tasks an earlier (killed) apply left running; default 20 s. */
  settleTimeoutMs?: number;
  /**
   * Deadline of one action, retries included; default 30 min. Past it the action fails with
   * ActionTimeoutError and the XAPI tasks it was waiting on are cancelled (task.cancel).
   */
  actionTimeoutMs?: number;
  /** Once aborted, no further action starts (nor retries); actions in flight finish. */
  signal?: AbortSignal;
  /** The clock a rollout's `healthyAfter` is measured on; default the process clock. */
  clock?: ApplyClock;
}

/** Why an action must not run at all, before anything is called. */
function skipReason(action: Action, options: ApplyOptions): string | undefined {
  if (action.gate.state === 'held') return `held by policy ${action.gate.policy}: ${action.gate.reason}`;
  if (action.disruption === 'destructive' && !(options.destructiveAllowed?.(action) ?? false)) {
    return 'destructive: not approved by a policy (pass --allow-destructive to run it anyway)';
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Executes a plan against a pool: actions in dependency order, independent ones concurrently (up to
 * `concurrency`), each idempotent so that re-running a plan (or a fresh plan after a crash) converges.
 * Held actions are reported, not run; a failed action's dependents are skipped with the reason, and
 * everything independent of it still runs. Transient failures are retried (each applier re-reads
 * state first, so a retry never repeats what already happened).
 */
export async function applyPlan(plan: Plan, caller: XapiCaller, options: ApplyOptions): Promise<ApplyResult> {
  const t0 = performance.now();
  const log = options.log ?? silentLogger;
  const ctx: ApplyContext = {
    caller,
    repo: options.repo,
    secrets: options.secrets ?? processSecretSource(),
    log,
    lookup: new Lookup(caller, options.repo, LOOKUP_KINDS),
  };
  const retries = options.retries ?? 2;
  const retryDelay = options.retryDelayMs ?? 250;
  const attempts = new Map<string, number>();
  const heldIds = new Set(plan.actions.filter((a) => a.gate.state === 'held').map((a) => a.id));

  const runnable = plan.actions.some((a) => skipReason(a, options) === undefined);
  if (runnable) await settlePreviousTasks(caller, log, options.settleTimeoutMs);

  // A rollout's batch waits for the whole batch before it (a barrier job), on top of the plan's own dependencies.
  const pacing = rolloutPacing(plan.actions);
  const halts = new RolloutHalts();
  const jobs: (Job & { action?: Action })[] = plan.actions.map((action) => {
    const barrier = pacing.waitsFor.get(action.id);
    return { id: action.id, dependsOn: barrier ? [...action.dependsOn, barrier] : action.dependsOn, skip: skipReason(action, options), action };
  });
  jobs.push(...pacing.barriers);

  const run = async (job: { action?: Action }): Promise<void> => {
    const action = job.action;
    if (!action) return; // a barrier: its dependencies are the work
    const applier = KINDS[action.kind]?.apply;
    const deadline = deadlineCaller(caller, action.address, options.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS, log);
    const actx: ApplyContext = { ...ctx, caller: deadline.caller };
    try {
      await attemptAll(action, applier, actx);
    } finally {
      deadline.dispose();
    }
    if (action.rollout) await awaitHealthy(action, ctx);
  };

  // Outside the action's deadline: healthyAfter may be longer than any one action may take.
  const awaitHealthy = async (action: Action, ctx: ApplyContext): Promise<void> => {
    const health = KINDS[action.kind]?.health;
    if (!health) return;
    try {
      await health(action, ctx, {
        healthyAfterMs: action.rollout!.healthyAfter * 1000,
        clock: options.clock ?? systemApplyClock,
        onHealthy: () => options.listener?.healthy?.(action),
        signal: options.signal,
      });
    } catch (err) {
      if (options.signal?.aborted && !(err instanceof ApplyError)) {
        throw new ApplyError(action.address, 'interrupted while waiting for the VM to stay healthy (rollout healthyAfter)', { cause: err });
      }
      throw err;
    }
  };

  const attemptAll = async (action: Action, applier: Applier | undefined, ctx: ApplyContext): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      attempts.set(action.id, attempt);
      options.listener?.started?.(action, attempt);
      try {
        if (!applier) throw new Error(`no applier for kind ${action.kind} (action ${action.id})`);
        await applier(action, ctx);
        return;
      } catch (err) {
        if (attempt > retries || isPermanent(err) || options.signal?.aborted) throw err;
        options.listener?.retrying?.(action, attempt, err);
        log.warn({ action: action.id, attempt, err: errorMessage(err) }, 'action failed; retrying');
        await new Promise((r) => setTimeout(r, retryDelay * 2 ** (attempt - 1)));
        // A call whose reply was lost may have started a task that is still creating the object:
        // let it finish, so the retry finds the object instead of creating a second one.
        await settlePreviousTasks(ctx.caller, log, options.settleTimeoutMs, 50);
      }
    }
  };

  const toResult = (action: Action, outcome: JobOutcome): ActionResult => {
    if (outcome.state === 'succeeded') return { action, state: 'succeeded', ms: outcome.ms, attempts: attempts.get(action.id) };
    if (outcome.state === 'failed') {
      return { action, state: 'failed', reason: errorMessage(outcome.error), error: outcome.error, ms: outcome.ms, attempts: attempts.get(action.id) };
    }
    // A held action, or one that only waits on held actions, is policy's choice, not a failure.
    const onlyHeld = action.gate.state === 'held' || (outcome.blockedBy !== undefined && heldIds.has(outcome.blockedBy));
    if (outcome.interrupted) return { action, state: 'skipped', reason: outcome.reason, interrupted: true };
    const byRollout = outcome.blockedBy !== undefined && outcome.blockedBy === pacing.waitsFor.get(action.id);
    const halted = byRollout ? halts.reasonFor(action) : undefined;
    if (halted !== undefined && action.rollout) return { action, state: 'held', reason: halted, heldBy: action.rollout.policy };
    return { action, state: onlyHeld ? 'held' : 'skipped', reason: outcome.reason };
  };

  const outcomes = await runJobs<Job & { action?: Action }>(jobs, {
    concurrency: options.concurrency ?? 8,
    run,
    signal: options.signal,
    listener: {
      finished(job, outcome) {
        if (!job.action) return;
        const result = toResult(job.action, outcome);
        if (result.state === 'failed') halts.failed(job.action, `failed: ${result.reason}`);
        else if (result.state === 'skipped' && !result.interrupted) halts.failed(job.action, `did not run: ${result.reason}`);
        if (result.state === 'held') heldIds.add(job.id);
        options.listener?.finished?.(result);
      },
    },
  });

  const results = plan.actions.map((a) => toResult(a, outcomes.get(a.id)!));
  const counts: Record<ActionState, number> = { succeeded: 0, failed: 0, skipped: 0, held: 0 };
  for (const r of results) counts[r.state]++;
  return { results, counts, ok: counts.failed === 0 && counts.skipped === 0, ms: performance.now() - t0 };
}
