/**
 * The per-action deadline: every call an action makes goes through a caller that fails them all
 * with ActionTimeoutError once the deadline has passed, and cancels (task.cancel) the XAPI tasks
 * the action is still waiting on, so that neither apply nor the pool keeps working on it.
 */
import type { Ref } from '../model/observed.js';
import { XapiError, type XapiCaller } from '../xapi/caller.js';
import { XapiTaskTimeoutError } from '../xapi/errors.js';
import { decodeValueFragment } from '../xapi/xmlrpc-transport.js';
import type { ApplyLogger } from './context.js';
import { ActionTimeoutError } from './errors.js';
import { TASK_KEY } from './inflight.js';

export { ActionTimeoutError } from './errors.js';

/** A caller bounded by one action's deadline; `dispose` stops its timer once the action is over. */
export interface DeadlineCaller {
  caller: XapiCaller;
  dispose(): void;
}

interface TaskState {
  status: string;
  result: string;
  error_info: string[];
}

/** How long the action waits for task.cancel calls once its deadline passed before it fails anyway. */
const CANCEL_GRACE_MS = 5000;

/** How long to wait between two looks at a task: short at first (most finish at once), at most 1 s. */
function pollDelay(attempt: number): number {
  return Math.min(1000, 10 * 2 ** attempt);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function describe(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * Wraps `inner` for one action with a deadline `ms` from now. Async calls are run as
 * `Async.<method>` with their task watched here (so the task is known, and can be cancelled); their
 * task is destroyed once finished, as XapiClient.callAsync does.
 */
export function deadlineCaller(inner: XapiCaller, address: string, ms: number, log: ApplyLogger): DeadlineCaller {
  const abort = new AbortController();
  const tasks = new Set<Ref>();
  let expired: ActionTimeoutError | undefined;
  const timer = setTimeout(() => {
    expired = new ActionTimeoutError(address, `did not finish within its deadline of ${describe(ms)}${tasks.size ? '; its XAPI task was cancelled' : ''}`);
    // The action fails once its tasks were told to stop, so nothing of it still runs when apply reports it.
    const cancels = [...tasks].map((task) =>
      inner.call('task.cancel', task).catch((err: unknown) => log.warn({ address, task, err: String(err) }, 'task.cancel failed after the deadline')),
    );
    // ...but a pool that does not answer task.cancel either must not hold the action past a short grace.
    const grace = new Promise<void>((r) => setTimeout(r, CANCEL_GRACE_MS).unref?.());
    void Promise.race([Promise.all(cancels), grace]).then(() => abort.abort());
  }, ms);
  timer.unref?.();

  const guard = <T>(work: Promise<T>): Promise<T> => {
    if (expired) {
      work.catch(() => undefined);
      // Past the deadline, a call fails only once the cancels were answered (the abort), as one in flight does.
      if (abort.signal.aborted) return Promise.reject(expired);
      return new Promise<T>((_resolve, reject) => abort.signal.addEventListener('abort', () => reject(expired), { once: true }));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(expired);
      abort.signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (v) => {
          abort.signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          abort.signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  };

  // The task's own deadline (the operator's per-method table) holds inside the action's: a task that
  // never ends fails its action after minutes, not after the whole action's half hour.
  const waitTask = async (task: Ref, method: string): Promise<unknown> => {
    const taskMs = inner.taskDeadlineFor?.(method);
    const until = taskMs === undefined ? Infinity : performance.now() + taskMs;
    for (let attempt = 0; ; attempt++) {
      const rec = await guard(inner.call<TaskState>('task.get_record', task));
      if (rec.status === 'success') return decodeValueFragment(rec.result);
      if (rec.status === 'cancelled') throw new XapiError('TASK_CANCELLED', [task], method);
      if (rec.status === 'failure') {
        const [code = 'INTERNAL_ERROR', ...params] = (rec.error_info ?? []).map(String);
        throw new XapiError(code, params, method);
      }
      if (performance.now() >= until) {
        const cancelled = await guard(inner.call('task.cancel', task)).then(() => true, (err: unknown) => {
          if (err === expired) throw err;
          log.warn({ address, task, method, err: String(err) }, 'task.cancel failed after the task deadline');
          return false;
        });
        throw new XapiTaskTimeoutError(method, task, taskMs!, cancelled, describe(taskMs!));
      }
      await sleep(Math.min(pollDelay(attempt), Math.max(0, until - performance.now())), abort.signal);
    }
  };

  const caller: XapiCaller = {
    call: <T>(method: string, ...params: unknown[]) => guard(inner.call<T>(method, ...params)),
    async callAsync<T>(method: string, ...params: unknown[]): Promise<T> {
      const started = inner.call<Ref>(`Async.${method}`, ...params);
      // A task whose ref comes back after the deadline is cancelled as soon as it is known.
      started.then((t) => expired && inner.call('task.cancel', t).catch(() => undefined), () => undefined);
      const task = await guard(started);
      tasks.add(task);
      // Marked as ours, so a later apply's settling waits for it and for nothing else (inflight.ts).
      await guard(inner.call('task.add_to_other_config', task, TASK_KEY, address)).catch((err: unknown) => {
        if (err === expired) throw err;
        log.debug({ address, task, err: String(err) }, 'could not mark the task');
      });
      let overdue = false;
      try {
        return (await waitTask(task, method)) as T;
      } catch (err) {
        overdue = err instanceof XapiTaskTimeoutError;
        throw err;
      } finally {
        tasks.delete(task);
        // A cancelled (or overdue) task is left for XAPI to reap; a finished one is ours to destroy.
        if (!expired && !overdue) await inner.call('task.destroy', task).catch(() => undefined);
      }
    },
    // Disk content goes over XAPI's HTTP handlers with the inner caller's session (kinds/disk/upload.ts).
    ...(inner.transferEndpoint ? { transferEndpoint: () => guard(inner.transferEndpoint!()) } : {}),
  };
  return { caller, dispose: () => clearTimeout(timer) };
}
