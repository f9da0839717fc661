import type { Action } from '../model/plan.js';
import type { ApplyLogger } from './context.js';
import type { ActionResult, ApplyListener, ApplyResult } from './executor.js';

/** A progress display fed by the executor's events; `stop` draws the final state and releases the terminal. */
export interface Progress extends ApplyListener {
  stop(): void;
}

/** Where a live display draws: a TTY stream's write and width. */
export interface TtyStream {
  write(text: string): unknown;
  columns?: number;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * A live block on a terminal, redrawn in place: counts of done/running/waiting/failed, one line per
 * running action with its elapsed time, and every failure as it happens (failures stay on screen).
 */
export function ttyProgress(stream: TtyStream, actions: readonly Action[], intervalMs = 120): Progress {
  const running = new Map<string, { action: Action; since: number; attempt: number; healthy?: boolean }>();
  const done = new Map<string, ActionResult>();
  let drawn = 0;
  const width = () => Math.max(40, (stream.columns ?? 100) - 1);
  const clip = (line: string) => (line.length > width() ? line.slice(0, width() - 1) + '…' : line);
  const draw = (final = false) => {
    const counts = { succeeded: 0, failed: 0, skipped: 0, held: 0 };
    for (const r of done.values()) counts[r.state]++;
    const waiting = actions.length - done.size - running.size;
    const lines = [
      `apply: ${counts.succeeded}/${actions.length} done, ${running.size} running, ${waiting} waiting` +
        (counts.failed ? `, ${counts.failed} failed` : '') +
        (counts.skipped ? `, ${counts.skipped} skipped` : '') +
        (counts.held ? `, ${counts.held} held` : ''),
    ];
    if (!final) {
      const now = performance.now();
      for (const r of running.values()) {
        const wait = r.healthy && r.action.rollout ? `, healthy: stays so ${r.action.rollout.healthyAfter}s before the next batch` : '';
        lines.push(`  … ${r.action.id} (${seconds(now - r.since)}${r.attempt > 1 ? `, attempt ${r.attempt}` : ''}${wait})`);
      }
    }
    // Move up over the previous block and clear it, then draw the new one.
    const up = drawn > 0 ? `\x1b[${drawn}F\x1b[J` : '';
    stream.write(up + lines.map(clip).join('\n') + '\n');
    drawn = lines.length;
  };
  const timer = setInterval(() => draw(), intervalMs);
  timer.unref();
  return {
    started(action, attempt) {
      running.set(action.id, { action, since: running.get(action.id)?.since ?? performance.now(), attempt });
    },
    healthy(action) {
      const r = running.get(action.id);
      if (r) r.healthy = true;
    },
    finished(result) {
      running.delete(result.action.id);
      done.set(result.action.id, result);
      if (result.state === 'failed') {
        // Printed above the live block, so it stays on screen.
        const up = drawn > 0 ? `\x1b[${drawn}F\x1b[J` : '';
        stream.write(up + clip(`  ✗ ${result.action.id}: ${result.reason ?? ''}`) + '\n');
        drawn = 0;
      }
      draw();
    },
    stop() {
      clearInterval(timer);
      draw(true);
    },
  };
}

/** One pino line per event, for logs and CI (no TTY). */
export function logProgress(log: ApplyLogger): Progress {
  return {
    started(action, attempt) {
      log.info({ action: action.id, attempt }, 'action started');
    },
    retrying(action, attempt, error) {
      log.warn({ action: action.id, attempt, err: error instanceof Error ? error.message : String(error) }, 'action failed; retrying');
    },
    healthy(action) {
      log.info({ action: action.id, healthyAfter: action.rollout?.healthyAfter }, 'healthy after the change; the next rollout batch waits healthyAfter');
    },
    finished(r) {
      const fields = { action: r.action.id, state: r.state, ms: r.ms === undefined ? undefined : Math.round(r.ms), reason: r.reason };
      if (r.state === 'failed') log.error(fields, 'action failed');
      else if (r.state === 'succeeded') log.info(fields, 'action succeeded');
      else log.warn(fields, `action ${r.state}`);
    },
    stop() {},
  };
}

/** The final summary: counts and time, then one line per action that did not succeed, with why. */
export function formatSummary(result: ApplyResult): string {
  const { succeeded, failed, skipped, held } = result.counts;
  const lines = [
    `${result.ok ? 'Apply complete' : 'Apply finished with problems'}: ${succeeded} succeeded, ${failed} failed, ` +
      `${skipped} skipped, ${held} held (${seconds(result.ms)})`,
  ];
  for (const r of result.results) {
    if (r.state === 'succeeded') continue;
    lines.push(`  ${r.state.padEnd(7)} ${r.action.id}: ${r.reason ?? ''}`);
  }
  return lines.join('\n') + '\n';
}
