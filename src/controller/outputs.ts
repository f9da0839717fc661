import { randomUUID } from 'node:crypto';
import { CommitStatusMemory, DEFAULT_API_URL, commitStatusRequest, isCommitSha, type CommitState, type CommitStatusTarget } from '../notify/commit-status.js';
import { DeliveryQueue, originOf, type DeliveryOptions, type DeliveryResult } from '../notify/delivery.js';
import { NotificationTracker, notificationEvent, short, type EventDraft } from '../notify/events.js';
import { webhookRequest, type WebhookTarget } from '../notify/webhook.js';
import { ReconcileHistory, historyEntry } from './history.js';
import type { LeaseState } from './lease.js';
import type { ControllerMetrics } from './metrics.js';
import type { ReconcileSummary } from './status.js';
import type { ReconcileOutcome } from './types.js';

/** The subset of a pino logger the outputs write to. */
export interface OutputsLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What the operator is told, and where: history, webhook notifications, commit statuses. */
export interface OperatorOutputsOptions {
  /** The reconcile history's file (kept across restarts); in memory only when absent. */
  historyFile?: string;
  historyLimit?: number;
  /** Outgoing notifications; none when absent. */
  notify?: WebhookTarget;
  /** Commit statuses on the Git host; none when absent. */
  commitStatus?: CommitStatusTarget;
  /** Retry and queue bounds of both senders (tests shorten the backoff). */
  delivery?: DeliveryOptions;
  /** The pool's name for notifications, asked when an event is sent (the pool's name_label once it has been read). */
  poolName?: () => string | undefined;
  metrics: ControllerMetrics;
  logger: OutputsLogger;
}

/**
 * The controller's operator-facing outputs, fed by the loop and the lease keeper. Every method
 * returns at once: deliveries go through bounded background queues, so a slow or dead receiver
 * never holds up a reconcile. Secrets (HMAC key, token) live only in request headers, which are
 * never logged.
 */
export class OperatorOutputs {
  readonly history: ReconcileHistory;
  private readonly opts: OperatorOutputsOptions;
  private readonly tracker = new NotificationTracker();
  private readonly statuses = new CommitStatusMemory();
  private readonly webhook: DeliveryQueue | undefined;
  private readonly commitStatus: DeliveryQueue | undefined;
  private leaseWasHeld = false;

  private constructor(options: OperatorOutputsOptions, history: ReconcileHistory) {
    this.opts = options;
    this.history = history;
    const deliveries = options.metrics.registry.counter('xops_notifications_total', 'Notification deliveries by sink (webhook, commit-status) and outcome (delivered, failed, dropped: pushed out of a full queue or left at shutdown).');
    const queue = (sink: string, target: string) =>
      new DeliveryQueue({
        ...options.delivery,
        onResult: (r: DeliveryResult) => {
          deliveries.inc({ sink, outcome: r.outcome });
          const fields = { sink, target, what: r.label, attempts: r.attempts, status: r.status, err: r.error };
          if (r.outcome === 'delivered') options.logger.debug(fields, 'notification delivered');
          else options.logger.warn(fields, `notification ${r.outcome}`);
        },
      });
    if (options.notify) this.webhook = queue('webhook', originOf(options.notify.url));
    if (options.commitStatus) this.commitStatus = queue('commit-status', originOf(options.commitStatus.baseUrl ?? DEFAULT_API_URL[options.commitStatus.provider]));
  }

  /** Opens the history file (a corrupt one is reported and replaced) and sets up the senders. */
  static async start(options: OperatorOutputsOptions): Promise<OperatorOutputs> {
    const history = await ReconcileHistory.open({ file: options.historyFile, limit: options.historyLimit, logger: options.logger });
    return new OperatorOutputs(options, history);
  }

  /** A reconcile of `commit` is starting: the first time a commit is seen, its status becomes pending. */
  reconcileStarting(commit: string): void {
    if (!this.commitStatus || !isCommitSha(commit) || this.statuses.known(commit)) return;
    this.postStatus(commit, 'pending', 'xops is applying this commit');
  }

  /** A reconcile finished: recorded in the history, notified when it is news, reflected on the commit. */
  reconciled(summary: ReconcileSummary, outcome: ReconcileOutcome): void {
    this.history.record(historyEntry(summary, outcome));
    for (const draft of this.tracker.reconciled(summary, outcome)) this.notify(draft);
    if (!this.commitStatus || !isCommitSha(summary.commit)) return;
    const [state, description] = commitVerdict(summary);
    this.postStatus(summary.commit, state, description);
  }

  /** The lease keeper's latest view: losing a lease this instance held is notified once. */
  leaseUpdated(state: LeaseState | undefined): void {
    if (!state) return;
    if (this.leaseWasHeld && !state.held) this.notify(this.tracker.leaseLost(state.holder, state.heldBy, state.reason));
    this.leaseWasHeld = state.held;
  }

  /** Lets queued deliveries finish for up to `graceMs`, then writes the history out. */
  async close(graceMs = 5_000): Promise<void> {
    await Promise.all([this.webhook?.close(graceMs), this.commitStatus?.close(graceMs)]);
    await this.history.flush();
  }

  /** Resolves once both queues are empty (tests). */
  async idle(): Promise<void> {
    await Promise.all([this.webhook?.idle(), this.commitStatus?.idle()]);
  }

  private notify(draft: EventDraft): void {
    if (!this.webhook || !this.opts.notify) return;
    const event = notificationEvent(draft, randomUUID(), new Date(), this.opts.poolName?.());
    this.webhook.enqueue(event.type, webhookRequest(this.opts.notify, event));
  }

  private postStatus(sha: string, state: CommitState, description: string): void {
    if (!this.commitStatus || !this.opts.commitStatus || !this.statuses.changed(sha, state, description)) return;
    this.commitStatus.enqueue(`${state} ${short(sha)}`, commitStatusRequest(this.opts.commitStatus, sha, state, description));
  }
}

/** The commit status a finished reconcile stands for. */
function commitVerdict(summary: ReconcileSummary): [CommitState, string] {
  const a = summary.actions;
  if (summary.result === 'invalid') return ['failure', `rejected: ${summary.error ?? 'the manifests are invalid'}`];
  if (summary.result === 'failure') return ['failure', `apply failed: ${summary.error ?? 'reconcile failed'}`];
  if (a.held > 0) return ['pending', `${a.applied} applied, ${a.held} held back by policy`];
  return ['success', a.applied > 0 ? `applied (${a.applied} action(s)) and converged` : 'converged: the pool matches this commit'];
}
