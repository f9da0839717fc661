import type { Clock } from '../../src/controller/types.js';

/** A clock tests move by hand: timers fire only inside `advance`, in due order. */
export class ManualClock implements Clock {
  private current = Date.parse('2025-01-01T00:00:00Z');
  private timers: { id: number; due: number; fn: () => void }[] = [];
  private nextId = 1;

  now(): number {
    return this.current;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ id, due: this.current + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  /** Due times of pending timers, relative to now. */
  pending(): number[] {
    return this.timers.map((t) => t.due - this.current).sort((a, b) => a - b);
  }
  /** Moves time forward by `ms`, firing due timers and letting the promises they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (;;) {
      this.timers.sort((a, b) => a.due - b.due || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.due > end) break;
      this.timers.shift();
      this.current = next.due;
      next.fn();
      await settle();
    }
    this.current = end;
  }
}

/** Lets chains of already-resolved promises run to the end. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
