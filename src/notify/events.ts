import { formatDiagnostic } from '../model/diagnostics.js';
import type { ReconcileSummary } from '../controller/status.js';
import type { ReconcileOutcome } from '../controller/types.js';

/** What an operator is told about. A closed set: receivers may switch on it. */
export const NOTIFICATION_TYPES = ['reconcile-failed', 'commit-rejected', 'drift-found', 'drift-healed', 'actions-held', 'lease-lost'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** How bad it is, for colouring chat messages. */
export type Severity = 'info' | 'warning' | 'error';

/**
 * One notification, the generic JSON body as sent (see docs/monitoring.md). Fields are only ever
 * added, never renamed.
 */
export interface NotificationEvent {
  /** Unique per event, also sent as `X-Xops-Delivery`: receivers drop duplicates (a retried delivery) by it. */
  id: string;
  type: NotificationType;
  severity: Severity;
  /** ISO time the event happened. */
  at: string;
  pool?: string;
  commit?: string;
  /** One line a person reads first. */
  summary: string;
  /** The particulars (failed actions, drifted resources, held actions, manifest problems), at most MAX_DETAILS. */
  details: string[];
}

const SEVERITY: Record<NotificationType, Severity> = {
  'reconcile-failed': 'error',
  'commit-rejected': 'error',
  'drift-found': 'warning',
  'drift-healed': 'info',
  'actions-held': 'warning',
  'lease-lost': 'warning',
};

export const MAX_DETAILS = 20;
/** Characters per detail line (summaries get twice as many): keeps every body small, whatever an error says. */
export const MAX_LINE = 300;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** An event without its id, time and pool: what the tracker decides to say. */
export type EventDraft = Pick<NotificationEvent, 'type' | 'commit' | 'summary' | 'details'>;

/** Completes a draft into an event. */
export function notificationEvent(draft: EventDraft, id: string, at: Date, pool?: string): NotificationEvent {
  return {
    id,
    type: draft.type,
    severity: SEVERITY[draft.type],
    at: at.toISOString(),
    ...(pool ? { pool } : {}),
    ...(draft.commit ? { commit: draft.commit } : {}),
    summary: clip(draft.summary, MAX_LINE * 2),
    details: draft.details.slice(0, MAX_DETAILS).map((d) => clip(d, MAX_LINE)),
  };
}

/**
 * Decides which reconciles are news. A level-based loop reconciles the same state again and again
 * (resyncs, retries), so the tracker remembers what it last said and speaks only on a change:
 * - `reconcile-failed` when a reconcile fails after one that did not, or fails with another error;
 * - `commit-rejected` once per invalid commit;
 * - `drift-found` when the set of drifted, unhealed resources grows or changes;
 * - `drift-healed` for every reconcile that put drifted resources back;
 * - `actions-held` when the set of held actions changes to a non-empty one.
 */
export class NotificationTracker {
  private lastError: string | undefined;
  private rejected = new Set<string>();
  private driftKey = '';
  private heldKey = '';

  /** The events one finished reconcile gives rise to (often none). */
  reconciled(summary: ReconcileSummary, outcome: ReconcileOutcome): EventDraft[] {
    const commit = summary.commit;
    if (summary.result === 'invalid') {
      if (this.rejected.has(commit)) return [];
      if (this.rejected.size > 100) this.rejected.clear();
      this.rejected.add(commit);
      const problems = (outcome.invalid ?? []).map(formatDiagnostic);
      return [{ type: 'commit-rejected', commit, summary: `commit ${short(commit)} is invalid (${problems.length} problem(s)); the last good commit stays in force`, details: problems }];
    }
    const events: EventDraft[] = [];
    if (summary.result === 'failure') {
      const error = summary.error ?? 'reconcile failed';
      if (error !== this.lastError) {
        const failed = (outcome.applied ?? []).filter((a) => !a.ok).map((a) => `${a.address}: ${a.error ?? 'failed'}`);
        events.push({ type: 'reconcile-failed', commit, summary: `reconcile of ${short(commit)} failed: ${error}`, details: failed });
      }
      this.lastError = error;
    } else {
      this.lastError = undefined;
    }
    const drift = outcome.drift ?? [];
    const healed = drift.filter((d) => d.healed);
    if (healed.length > 0) {
      events.push({ type: 'drift-healed', commit, summary: `${healed.length} drifted resource(s) put back as ${short(commit)} declares`, details: healed.map((d) => `${d.address}: ${d.paths.join(', ')}`) });
    }
    const open = drift.filter((d) => !d.healed).map((d) => `${d.address}: ${d.paths.join(', ')}`).sort();
    const driftKey = open.join('\n');
    if (open.length > 0 && driftKey !== this.driftKey) {
      events.push({ type: 'drift-found', commit, summary: `${open.length} managed resource(s) changed outside xops (reported, not healed)`, details: open });
    }
    // A failed reconcile may not have got as far as checking drift: keep what it last said.
    if (summary.result === 'success' || open.length > 0) this.driftKey = driftKey;
    const held = (outcome.held ?? []).map((h) => `${h.address} (${h.disruption}): held by ${h.policy}: ${h.reason}`).sort();
    const heldKey = held.join('\n');
    if (held.length > 0 && heldKey !== this.heldKey) {
      events.push({ type: 'actions-held', commit, summary: `${held.length} action(s) of ${short(commit)} held back by policy`, details: held });
    }
    if (summary.result === 'success' || held.length > 0) this.heldKey = heldKey;
    return events;
  }

  /** The event for this instance losing the pool's lease (another instance may now act). */
  leaseLost(holder: string, heldBy: string | undefined, reason: string | undefined): EventDraft {
    return {
      type: 'lease-lost',
      summary: `${holder} lost the pool lease${heldBy ? ` to ${heldBy}` : ''}; standing by`,
      details: reason ? [reason] : [],
    };
  }
}

/** A commit id as people quote it. */
export function short(commit: string): string {
  return /^[0-9a-f]{40}$/.test(commit) ? commit.slice(0, 12) : commit;
}
