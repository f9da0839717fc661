/**
 * IdleGate (src/manifests/idle-gate.ts): parse-ahead work on the main thread waits for a moment
 * the event loop has nothing else to do, so that it never holds up replies being read; once the
 * result is asked for, it goes on at every turn.
 */
import { describe, expect, it } from 'vitest';
import { IdleGate } from '../../src/manifests/idle-gate.js';

/** Keeps the event loop busy for `turns` turns of about 2 ms of work each; resolves after the last. */
function busyTurns(turns: number, log: string[]): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number) => {
      const until = performance.now() + 2;
      while (performance.now() < until) {
        // work that never lets the loop wait
      }
      if (left === 0) {
        log.push('busy done');
        resolve();
      } else setImmediate(() => step(left - 1));
    };
    setImmediate(() => step(turns));
  });
}

describe('IdleGate', () => {
  it('lets work through only once the loop stops being busy', async () => {
    const gate = new IdleGate();
    const log: string[] = [];
    const busy = busyTurns(40, log);
    const idle = gate.idle().then(() => log.push('idle'));
    await Promise.all([busy, idle]);
    expect(log).toEqual(['busy done', 'idle']);
  });

  it('lets work through at the next turn once hurried, busy or not', async () => {
    const gate = new IdleGate();
    const log: string[] = [];
    const busy = busyTurns(40, log);
    const idle = gate.idle().then(() => log.push('idle'));
    gate.hurry();
    await Promise.all([busy, idle]);
    expect(log).toEqual(['idle', 'busy done']);
    // And stays so: no waiting for an idle moment any more.
    const again = busyTurns(40, log);
    await gate.idle();
    log.push('idle again');
    await again;
    expect(log.slice(2)).toEqual(['idle again', 'busy done']);
  });
});
