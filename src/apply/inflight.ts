import type { Ref } from '../model/observed.js';
import type { XapiCaller } from '../xapi/caller.js';
import type { ApplyLogger } from './context.js';
import { allRecords, isXapiError } from './xapi.js';

/**
 * Creating calls whose task may outlive an apply that was killed: the object appears only when the
 * task ends, so a re-run that looked too early would create it a second time.
 */
const CREATING_TASKS = new Set([
  'VM.clone', 'VM.copy', 'VM.provision', 'VDI.create', 'VBD.create', 'VIF.create', 'network.create',
  'VLAN.create', 'Bond.create', 'SR.create', 'PBD.create', 'VM_appliance.create',
]);

interface TaskRecord {
  name_label: string;
  status: string;
}

/**
 * Waits until the creating tasks running on the pool have finished, so that what they create is
 * found instead of created again. Apply calls it when it starts (tasks left by an apply that was
 * killed) and before retrying an action (a task whose reply was lost).
 * Gives up after `timeoutMs` with a warning: a stuck foreign task must not block apply forever.
 */
export async function settlePreviousTasks(caller: XapiCaller, log: ApplyLogger, timeoutMs = 120_000, pollMs = 200): Promise<number> {
  const pending = (await allRecords<TaskRecord>(caller, 'task')).filter(
    ([, t]) => t.status === 'pending' && CREATING_TASKS.has(t.name_label.replace(/^Async\./, '')),
  );
  if (pending.length === 0) return 0;
  log.info({ tasks: pending.map(([, t]) => t.name_label) }, 'waiting for creating tasks left by an earlier apply');
  const deadline = Date.now() + timeoutMs;
  let left: Ref[] = pending.map(([ref]) => ref);
  while (left.length > 0 && Date.now() < deadline) {
    const still: Ref[] = [];
    for (const ref of left) {
      try {
        if ((await caller.call<string>('task.get_status', ref)) === 'pending') still.push(ref);
      } catch (err) {
        if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
      }
    }
    left = still;
    if (left.length > 0) await new Promise((r) => setTimeout(r, pollMs));
  }
  if (left.length > 0) log.warn({ tasks: left }, 'creating tasks still pending; going on without them');
  return pending.length;
}
