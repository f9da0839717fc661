/**
 * The simulator's clock: what time it is inside the simulated pool. It starts at the wall-clock time the
 * simulator starts (or `start`) and moves only when a test or operator advances it, so work the pool does
 * on a schedule (VMSS snapshots) happens exactly when a test says time has passed, never by timing luck.
 */
export class SimClock {
  private ms: number;
  private readonly listeners: ((now: Date) => void)[] = [];

  constructor(start: Date = new Date()) {
    this.ms = start.getTime();
  }

  /** The pool's current time. */
  now(): Date {
    return new Date(this.ms);
  }

  /**
   * Moves time forward by `ms` (0 to 366 days) and runs whatever falls due, in time order, before it returns.
   * Throws on a negative, non-finite or larger step: the clock never goes back.
   */
  advance(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_STEP_MS) throw new Error(`clock: advance must be between 0 and ${MAX_STEP_MS} ms, not ${ms}`);
    this.ms += Math.floor(ms);
    const now = this.now();
    for (const fn of this.listeners) fn(now);
    return now;
  }

  /** Calls `fn` with the new time after every advance. */
  onAdvance(fn: (now: Date) => void): void {
    this.listeners.push(fn);
  }
}

/** The longest single step: a year and a day. */
export const MAX_STEP_MS = 366 * 86_400_000;
