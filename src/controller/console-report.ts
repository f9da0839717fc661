import type { ApplyResult } from '../apply/executor.js';
import { formatSummary } from '../apply/progress.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import type { Plan } from '../model/plan.js';
import { renderText } from '../render/index.js';
import { terminalText } from '../render/escape.js';
import type { ReconcileInput, ReconcileOutcome } from './types.js';

/**
 * What `xops run` shows a person at a terminal (log format `text`): the plan whenever a reconcile
 * has something new to do, apply's summary, invalid commits with every problem, and drift. A plan
 * that only repeats the actions already shown as held (a window not open yet) is not printed again
 * on every resync or event.
 */
export class ConsoleReport {
  private readonly write: (text: string) => void;
  private readonly color: boolean;
  private lastShown: string | undefined;
  private lastRejected: string | undefined;
  private lastDrift = '[]';

  constructor(write: (text: string) => void, options: { color: boolean }) {
    this.write = write;
    this.color = options.color;
  }

  plan(plan: Plan): void {
    if (plan.actions.length === 0) {
      if (this.lastShown !== undefined) this.write('The pool matches the manifests.\n');
      this.lastShown = undefined;
      return;
    }
    const fingerprint = JSON.stringify([plan.source.commit, plan.actions.map((a) => [a.id, a.gate.state, a.changes.map((c) => [c.path, c.to])])]);
    const onlyHeld = plan.actions.every((a) => a.gate.state === 'held');
    if (onlyHeld && fingerprint === this.lastShown) return;
    this.lastShown = fingerprint;
    this.write('\n' + renderText(plan, { color: this.color }));
  }

  applied(result: ApplyResult): void {
    if (result.counts.succeeded + result.counts.failed === 0) return;
    this.write(formatSummary(result));
  }

  outcome(outcome: ReconcileOutcome, input: ReconcileInput): void {
    if (outcome.invalid?.length) {
      if (this.lastRejected === input.commit) return;
      this.lastRejected = input.commit;
      this.write(`\nCommit ${input.commit} is invalid; nothing was applied and the last good commit stays in force:\n`);
      // Diagnostics quote the repository (names, values): shown as text, never as terminal controls.
      for (const d of outcome.invalid) this.write(`  ${terminalText(formatDiagnostic(d))}\n`);
      return;
    }
    const drift = outcome.drift ?? [];
    const driftKey = JSON.stringify(drift);
    // Reported drift stays until someone acts: say it once, not on every resync.
    const repeated = driftKey === this.lastDrift && drift.every((d) => !d.healed);
    this.lastDrift = driftKey;
    for (const d of repeated ? [] : drift) {
      this.write(`Drift on ${terminalText(d.address)} (${terminalText(d.paths.join(', '))}): ${d.healed ? 'healed' : 'reported only (policy drift: report)'}\n`);
    }
    if (!outcome.ok && outcome.error) this.write(`Reconcile failed: ${terminalText(outcome.error)}\n`);
  }
}
