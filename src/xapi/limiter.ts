/** A counting semaphore: at most `max` holders at once, the rest wait in FIFO order. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  readonly max: number;
  /** The highest number of holders seen at once. */
  peak = 0;
  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError(`maxInFlight must be at least 1, got ${max}`);
    this.max = max;
  }
  get inFlight(): number {
    return this.active;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    if (this.active > this.peak) this.peak = this.active;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      // Hand the slot straight to the next waiter so the count never drops below a queued demand.
      if (next) next();
      else this.active--;
    }
  }
}
