import type { ApplyListener } from '../apply/executor.js';
import { ttyProgress, type Progress, type TtyStream } from '../apply/progress.js';
import type { Plan } from '../model/plan.js';

/** The controller's live progress on a terminal: one `ttyProgress` block per reconcile that applies something. */
export interface ReconcileProgress {
  /** The plan of the reconcile under way (its actions are what the block counts). */
  planned(plan: Plan): void;
  /** The apply finished: draw the final counts and release the terminal. */
  done(): void;
  /** Feed to the controller's applyListener. */
  listener: ApplyListener;
}

/**
 * The block appears only once an action starts (a plan with nothing runnable draws nothing) and
 * goes away when the apply finishes.
 */
export function reconcileProgress(stream: TtyStream): ReconcileProgress {
  let actions: Plan['actions'] = [];
  let block: Progress | undefined;
  const current = () => (block ??= ttyProgress(stream, actions.filter((a) => a.gate.state !== 'held')));
  return {
    planned(plan) {
      block?.stop();
      block = undefined;
      actions = plan.actions;
    },
    done() {
      block?.stop();
      block = undefined;
    },
    listener: {
      started: (action, attempt) => current().started?.(action, attempt),
      retrying: (action, attempt, error) => current().retrying?.(action, attempt, error),
      finished: (result) => current().finished?.(result),
    },
  };
}
