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
  const order = new Map(jobs.map((j, i) => [j.id, i]));
  const outcomes = new Map<string, JobOutcome>();
  const listener = options.listener ?? {};
  // Indexes, so that each completion only touches the jobs that wait on it (plans reach 10k actions).
  const unmet = new Map<string, number>();
  const dependents = new Map<string, J[]>();
  const ready = new ReadyQueue<J>((j) => order.get(j.id)!);
  let waiting = 0;

  const settle = (job: J, outcome: JobOutcome) => {
    outcomes.set(job.id, outcome);
    listener.finished?.(job, outcome);
    for (const next of dependents.get(job.id) ?? []) {
      if (outcomes.has(next.id) || !unmet.has(next.id)) continue;
      if (outcome.state === 'succeeded') {
        const left = unmet.get(next.id)! - 1;
        unmet.set(next.id, left);
        if (left === 0) ready.push(next);
      } else {
        // A dependency that did not succeed blocks the job for good; its own dependents follow.
        unmet.delete(next.id);
        waiting--;
        settle(next, { state: 'skipped', reason: `depends on ${job.id}, which ${outcome.state === 'failed' ? 'failed' : 'was not run'}`, blockedBy: job.id });
      }
    }
  };

  for (const job of jobs) {
    const deps = [...new Set(job.dependsOn)];
    unmet.set(job.id, deps.length);
    waiting++;
    for (const dep of deps) {
      const list = dependents.get(dep);
      if (list) list.push(job);
      else dependents.set(dep, [job]);
    }
  }
  for (const job of jobs) {
    if (!unmet.has(job.id)) continue; // already skipped through a dependency
    const missing = job.skip === undefined ? job.dependsOn.find((dep) => !byId.has(dep)) : undefined;
    if (job.skip !== undefined || missing !== undefined) {
      unmet.delete(job.id);
      waiting--;
      settle(job, { state: 'skipped', reason: job.skip ?? `depends on ${missing}, which is not in the plan` });
    }
  }
  for (const job of jobs) if (unmet.get(job.id) === 0 && !outcomes.has(job.id)) ready.push(job);

  let running = 0;
  let wake: (() => void) | undefined;
  for (;;) {
    if (options.signal?.aborted) {
      for (const job of jobs) {
        if (!unmet.has(job.id) || outcomes.has(job.id)) continue;
        unmet.delete(job.id);
        waiting--;
        settle(job, { state: 'skipped', reason: 'not started: apply was interrupted', interrupted: true });
      }
      ready.clear();
    }
    // Start ready jobs in plan order, up to the bound.
    while (running < concurrency && ready.size > 0) {
      const job = ready.pop()!;
      if (outcomes.has(job.id) || !unmet.has(job.id)) continue;
      unmet.delete(job.id);
      waiting--;
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
  if (waiting > 0) {
    for (const job of jobs) {
      if (outcomes.has(job.id)) continue;
      settle(job, { state: 'skipped', reason: `dependency cycle through ${job.dependsOn.join(', ')}` });
    }
  }
  return outcomes;
}

/** A min-heap of ready jobs by plan position, so jobs start in plan order whatever order they became ready. */
class ReadyQueue<T> {
  private readonly heap: T[] = [];
  private readonly rank: (item: T) => number;
  constructor(rank: (item: T) => number) {
    this.rank = rank;
  }
  get size(): number {
    return this.heap.length;
  }
  clear(): void {
    this.heap.length = 0;
  }
  push(item: T): void {
    const h = this.heap;
    h.push(item);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (this.rank(h[parent]!) <= this.rank(h[i]!)) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.rank(h[l]!) < this.rank(h[m]!)) m = l;
        if (r < h.length && this.rank(h[r]!) < this.rank(h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
