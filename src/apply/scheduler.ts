/**
 * Runs a set of jobs in dependency order with bounded concurrency. Knows nothing about XAPI: jobs are
 * ids with `dependsOn` lists and a function to run. A job whose dependency did not succeed is skipped
 * (with the dependency named), while jobs independent of a failure keep running.
 */

/** A unit the scheduler orders: an id, what must succeed first, and an optional reason not to run it. */
export interface Job {
  id: string;
  dependsOn: readonly string[];
  /** Set when the job must not run at all (held by a policy, refused): it counts as not succeeded. */
  skip?: string;
}

/** What happened to one job. `ms` is wall time spent running it. */
export type JobOutcome =
  | { state: 'succeeded'; ms: number }
  | { state: 'failed'; error: unknown; ms: number }
  | { state: 'skipped'; reason: string; blockedBy?: string; interrupted?: true };

/** Observers of the run, for progress displays and logs. */
export interface SchedulerListener<J extends Job> {
  started?(job: J): void;
  finished?(job: J, outcome: JobOutcome): void;
}

export interface ScheduleOptions<J extends Job> {
  /** Most jobs running at once (at least 1). */
  concurrency: number;
  run(job: J): Promise<void>;
  listener?: SchedulerListener<J>;
  /** Once aborted, no further job starts; those running finish, the rest are skipped as interrupted. */
  signal?: AbortSignal;
}

export async function runJobs<J extends Job>(jobs: readonly J[], options: ScheduleOptions<J>): Promise<Map<string, JobOutcome>> {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const outcomes = new Map<string, JobOutcome>();
  const waiting: J[] = [];
  const listener = options.listener ?? {};

  const settle = (job: J, outcome: JobOutcome) => {
    outcomes.set(job.id, outcome);
    listener.finished?.(job, outcome);
  };

  for (const job of jobs) {
    if (job.skip !== undefined) settle(job, { state: 'skipped', reason: job.skip });
    else waiting.push(job);
  }

  let running = 0;
  let wake: (() => void) | undefined;

  /** Why a waiting job can never run, or undefined while it still can. */
  const blockedBy = (job: J): { reason: string; blockedBy?: string } | undefined => {
    for (const dep of job.dependsOn) {
      if (!byId.has(dep)) return { reason: `depends on ${dep}, which is not in the plan` };
      const o = outcomes.get(dep);
      if (o && o.state !== 'succeeded') {
        return { reason: `depends on ${dep}, which ${o.state === 'failed' ? 'failed' : 'was not run'}`, blockedBy: dep };
      }
    }
    return undefined;
  };
  const ready = (job: J) => job.dependsOn.every((dep) => outcomes.get(dep)?.state === 'succeeded');

  for (;;) {
    // Skip what can never run, repeatedly: a skip may block further jobs.
    let changed = true;
    while (changed) {
      changed = false;
      for (let i = waiting.length - 1; i >= 0; i--) {
        const blocked = blockedBy(waiting[i]!);
        if (blocked !== undefined) {
          settle(waiting[i]!, { state: 'skipped', ...blocked });
          waiting.splice(i, 1);
          changed = true;
        }
      }
    }
    if (options.signal?.aborted) {
      for (const job of waiting.splice(0)) settle(job, { state: 'skipped', reason: 'not started: apply was interrupted', interrupted: true });
    }
    // Start ready jobs in plan order, up to the bound.
    for (let i = 0; i < waiting.length && running < concurrency; ) {
      const job = waiting[i]!;
      if (!ready(job)) {
        i++;
        continue;
      }
      waiting.splice(i, 1);
      running++;
      listener.started?.(job);
      const t0 = performance.now();
      options.run(job).then(
        () => settle(job, { state: 'succeeded', ms: performance.now() - t0 }),
        (error: unknown) => settle(job, { state: 'failed', error, ms: performance.now() - t0 }),
      ).finally(() => {
        running--;
        wake?.();
      });
    }
    if (running === 0) break;
    await new Promise<void>((r) => (wake = r));
    wake = undefined;
  }
  // Whatever still waits is part of a dependency cycle.
  for (const job of waiting) settle(job, { state: 'skipped', reason: `dependency cycle through ${job.dependsOn.join(', ')}` });
  return outcomes;
}
