import { XapiError } from './caller.js';
import { XapiClosedError } from './errors.js';
import { backoffDelay, sleep } from './retry.js';

/** The task fields callAsync needs. */
export interface TaskRecord {
  status: 'pending' | 'success' | 'failure' | 'cancelling' | 'cancelled' | string;
  result: string;
  error_info: string[];
  [field: string]: unknown;
}

/** What one `event.from` reply holds (PROTOCOL.md §9). */
export interface EventBatch {
  events: { id: string; class: string; operation: 'add' | 'mod' | 'del'; ref: string; snapshot?: Record<string, unknown> }[];
  token: string;
  valid_ref_counts?: Record<string, number>;
}

/**
 * `event.from`'s timeout as a float that XML-RPC encoders write as `<double>`: XAPI reads it as a
 * float, and a whole number would go out as `<int>` (the xen-api JS client does the same).
 */
export function eventTimeout(seconds: number): number {
  return seconds + 0.001;
}

/** The calls the watcher makes; the client passes itself. */
export interface TaskEventSource {
  request(method: string, params: unknown[], opts?: { timeoutMs?: number }): Promise<unknown>;
  readonly closed: boolean;
}

const TERMINAL = new Set(['success', 'failure', 'cancelled']);

/** Rejection of `TaskWatcher.wait` when the task was still running at the deadline. */
export class TaskWaitExpired extends Error {
  override name = 'TaskWaitExpired';
  readonly task: string;
  /** The task's last status seen (`pending`, `cancelling`), or undefined if no event for it came. */
  readonly lastStatus: string | undefined;
  constructor(task: string, lastStatus: string | undefined) {
    super(`task ${task} still ${lastStatus ?? 'running'} at its deadline`);
    this.task = task;
    this.lastStatus = lastStatus;
  }
}

interface Waiter {
  resolve: (t: TaskRecord) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The last event.from round started before this waiter registered. */
  since: number;
}
const POLL_SECONDS = 30;

/**
 * Waits for tasks to finish through one shared `event.from(["task"])` long-poll, however many async
 * calls are pending. It mirrors the task table (small: tasks are destroyed after use), so a task that
 * finished before its waiter registered is still found.
 */
export class TaskWatcher {
  private readonly source: TaskEventSource;
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly waiters = new Map<string, Waiter[]>();
  private token = '';
  private running = false;
  // Numbers the event.from requests, so a reply can be told apart from one already on its way
  // before a waiter registered (whose task it may predate).
  private round = 0;

  constructor(source: TaskEventSource) {
    this.source = source;
  }

  /**
   * Resolves with the task's record once its status is success, failure or cancelled. With
   * `deadlineMs`, rejects with TaskWaitExpired if that has not happened by then; the task itself is
   * left alone (cancelling it is the caller's decision).
   */
  wait(ref: string, deadlineMs?: number): Promise<TaskRecord> {
    const known = this.tasks.get(ref);
    if (known && TERMINAL.has(known.status)) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(ref) ?? [];
      const waiter: Waiter = { resolve, reject, timer: undefined, since: this.round };
      if (deadlineMs !== undefined) {
        waiter.timer = setTimeout(() => this.expire(ref, waiter), Math.max(0, deadlineMs));
      }
      list.push(waiter);
      this.waiters.set(ref, list);
      if (!this.running) void this.loop();
    });
  }

  /** Forgets a task the caller destroyed. */
  forget(ref: string): void {
    this.tasks.delete(ref);
  }

  /** Rejects every waiter: the client is closing. */
  abortAll(err: unknown): void {
    for (const list of this.waiters.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(err);
      }
    }
    this.waiters.clear();
  }

  private expire(ref: string, waiter: Waiter): void {
    const list = this.waiters.get(ref);
    const at = list?.indexOf(waiter) ?? -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) this.waiters.delete(ref);
    waiter.reject(new TaskWaitExpired(ref, this.tasks.get(ref)?.status));
  }

  private async loop(): Promise<void> {
    this.running = true;
    let failures = 0;
    try {
      while (this.waiters.size > 0) {
        if (this.source.closed) {
          this.abortAll(new XapiClosedError('task wait'));
          return;
        }
        let batch: EventBatch;
        const round = ++this.round;
        try {
          batch = (await this.source.request('event.from', [['task'], this.token, eventTimeout(POLL_SECONDS)], {
            timeoutMs: (POLL_SECONDS + 30) * 1000,
          })) as EventBatch;
          failures = 0;
        } catch (err) {
          if (err instanceof XapiError && (err.code === 'EVENTS_LOST' || err.code === 'EVENT_FROM_TOKEN_PARSE_FAILURE')) {
            // Start over from the whole task table.
            this.token = '';
            this.tasks.clear();
            continue;
          }
          if (this.source.closed) continue;
          // The client already retried and failed over; keep waiting, but do not spin.
          if (++failures > 5) {
            this.abortAll(err);
            return;
          }
          await sleep(backoffDelay(failures, 200, 5000));
          continue;
        }
        for (const ev of batch.events) {
          if (ev.class !== 'task') continue;
          if (ev.operation === 'del') {
            this.tasks.delete(ev.ref);
            // A task destroyed by someone else before it finished: report it rather than hang.
            this.settle(ev.ref, undefined);
            continue;
          }
          if (!ev.snapshot) continue;
          const rec = ev.snapshot as TaskRecord;
          this.tasks.set(ev.ref, rec);
          if (TERMINAL.has(rec.status)) this.settle(ev.ref, rec);
        }
        this.token = batch.token;
        this.settleMissing(round);
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * The mirror holds every task that existed when request `round` started (the first request reads
   * the whole table, later ones every change since). A waiter registered before that whose task is
   * not in it waits for a task that does not exist (any more): it would otherwise hang to its deadline.
   */
  private settleMissing(round: number): void {
    for (const [ref, list] of this.waiters) {
      if (this.tasks.has(ref) || !list.every((w) => w.since < round)) continue;
      this.settle(ref, undefined);
    }
  }

  private settle(ref: string, rec: TaskRecord | undefined): void {
    const list = this.waiters.get(ref);
    if (!list) return;
    this.waiters.delete(ref);
    for (const w of list) {
      clearTimeout(w.timer);
      if (rec) w.resolve(rec);
      else w.reject(new XapiError('HANDLE_INVALID', ['task', ref], 'task.wait'));
    }
  }
}
