/**
 * The `freezeAfter` fault: once the nth matching write has executed, the simulator answers nothing
 * (that write's reply included) until the fault is lifted. A test waits for `whenFrozen()`, kills
 * its client, lifts the fault, and so interrupts the client at an exact point between two writes.
 */

/** The freeze switch of one simulator (FaultController.freeze). */
export class WriteFreeze {
  private armed: { re: RegExp; remaining: number } | undefined;
  private on = false;
  private thawWaiters: (() => void)[] = [];
  private frozenWaiters: (() => void)[] = [];
  private holdingWaiters: { n: number; resolve: () => void }[] = [];

  /** Freezes after the next `writes` calls that change state and match `re`. */
  arm(writes: number, re: RegExp): void {
    this.armed = writes > 0 ? { re, remaining: writes } : undefined;
  }

  /** Writes still to go before the freeze, or undefined when none is armed. */
  get pending(): number | undefined {
    return this.armed?.remaining;
  }

  /** True while frozen: every request is held. */
  get frozen(): boolean {
    return this.on;
  }

  /**
   * Called after a call executed, with whether it counts (a write matching the armed aim): true when
   * it was the write that froze the simulator (hold its reply too).
   */
  afterCall(counts: (aim: RegExp) => boolean): boolean {
    if (!this.armed || this.on || !counts(this.armed.re)) return false;
    if (--this.armed.remaining > 0) return false;
    this.armed = undefined;
    this.on = true;
    for (const w of this.frozenWaiters.splice(0)) w();
    return true;
  }

  /** Resolves when no longer frozen (at once when not frozen); every held request waits here. */
  thawed(): Promise<void> {
    if (!this.on) return Promise.resolve();
    const p = new Promise<void>((r) => this.thawWaiters.push(r));
    const ready = this.holdingWaiters.filter((w) => this.thawWaiters.length >= w.n);
    this.holdingWaiters = this.holdingWaiters.filter((w) => this.thawWaiters.length < w.n);
    for (const w of ready) w.resolve();
    return p;
  }

  /** Resolves once at least `n` requests are held by the freeze. */
  whenHolding(n: number): Promise<void> {
    if (this.thawWaiters.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.holdingWaiters.push({ n, resolve }));
  }

  /** Resolves when the freeze has happened (at once when frozen already). */
  whenFrozen(): Promise<void> {
    return this.on ? Promise.resolve() : new Promise((r) => this.frozenWaiters.push(r));
  }

  /** Disarms and thaws; held requests are then cut by their holders. */
  lift(): void {
    this.armed = undefined;
    this.on = false;
    for (const w of this.thawWaiters.splice(0)) w();
  }
}
