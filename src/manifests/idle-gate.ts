import { performance } from 'node:perf_hooks';

// How long one look for idleness waits: the loop must block this long for the moment to count.
const IDLE_PROBE_MS = 1;

/**
 * When the main thread may do parse-ahead work: at a moment the event loop had nothing else to do
 * (it waited for I/O), or at once after hurry() (the caller now waits for the result). Work done
 * while replies are arriving would only hold them up: their socket buffers fill and the pool's
 * replies come no faster than this thread reads them.
 */
export class IdleGate {
  private hurried = false;
  private wake: (() => void) | undefined;

  /** From now on idle() resolves at the next turn of the event loop. */
  hurry(): void {
    this.hurried = true;
    this.wake?.();
  }

  /** Resolves at an idle moment (or at the next turn, once hurried). */
  async idle(): Promise<void> {
    if (this.hurried) return new Promise((r) => setImmediate(r));
    for (;;) {
      const before = performance.eventLoopUtilization();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, IDLE_PROBE_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      // Idle time accrues only while the loop blocks waiting for events: then nothing was pending.
      if (this.hurried || performance.eventLoopUtilization(before).idle >= IDLE_PROBE_MS / 2) return;
    }
  }
}
