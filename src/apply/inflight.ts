import type { Ref } from '../model/observed.js';
import type { XapiCaller } from '../xapi/caller.js';
import type { ApplyLogger } from './context.js';
import { allRecords, isXapiError } from './xapi.js';

/**
 * other_config key apply writes on every XAPI task it starts (deadline.ts): the address of the
 * action. Only tasks carrying it are settled here, so a foreign tool's long task never delays apply.
 */
export const TASK_KEY = 'xops.task';

/** settlePreviousTasks' default bound: short, since it runs at the start of every apply and before every retry. */
export const DEFAULT_SETTLE_TIMEOUT_MS = 20_000;

/**
 * Creating calls whose task may outlive an apply that was killed: the object appears only when the
 * task ends, so a re-run that looked too early would create it a second time.
 */
const CREATING_TASKS = new Set([
  'VM.clone', 'VM.copy', 'VM.provision', 'VDI.create', 'VBD.create', 'VIF.create', 'network.create',
  'VLAN.create', 'Bond.create', 'SR.create', 'PBD.create', 'VM_appliance.create',
  'VMSS.create', 'VM_group.create',
]);

interface TaskRecord {
  name_label: string;
  status: string;
  other_config?: Record<string, string>;
}

/**
 * Waits until the creating tasks xops started (marked `xops.task`) that are still pending have
 * finished, so that what they create is found instead of created again. Apply calls it when it
 * starts (tasks left by an apply that was killed) and before retrying an action (a task whose
 * reply was lost). Bounded by `timeoutMs`: a task still pending then is cancelled (task.cancel) and
 * apply goes on, so a task that never finishes cannot wedge apply. Returns how many it found.
 */
export async function settlePreviousTasks(caller: XapiCaller, log: ApplyLogger, timeoutMs = DEFAULT_SETTLE_TIMEOUT_MS, pollMs = 200): Promise<number> {
  const pending = (await allRecords<TaskRecord>(caller, 'task')).filter(
    ([, t]) => t.status === 'pending' && t.other_config?.[TASK_KEY] !== undefined && CREATING_TASKS.has(t.name_label.replace(/^Async\./, '')),
  );
  if (pending.length === 0) return 0;
  log.info({ tasks: pending.map(([, t]) => `${t.name_label} (${t.other_config?.[TASK_KEY]})`) }, 'waiting for creating tasks left by an earlier apply');
  const deadline = Date.now() + timeoutMs;
  let left: Ref[] = pending.map(([ref]) => ref);
  for (;;) {
    const still: Ref[] = [];
    for (const ref of left) {
      try {
        if ((await caller.call<string>('task.get_status', ref)) === 'pending') still.push(ref);
      } catch (err) {
        if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
      }
    }
    left = still;
    if (left.length === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
  for (const ref of left) {
    try {
      await caller.call('task.cancel', ref);
    } catch (err) {
      // Past its last cancellation point, or gone: either way apply does not wait any longer.
      log.warn({ task: ref, err: String(err) }, 'could not cancel a creating task left by an earlier apply');
    }
  }
  if (left.length > 0) log.warn({ tasks: left }, 'creating tasks still pending after the settle deadline: cancelled; going on');
  return pending.length;
}
