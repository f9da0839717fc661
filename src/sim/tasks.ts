import type { SimCore } from './core.js';
import { EPOCH, NULL_REF, xapiDate } from './ids.js';
import type { XType } from './model/classes.js';

/** Creates a pending task the way XAPI's TaskHelper does (status pending, progress 0, finished at the epoch). */
export function createTask(core: SimCore, label: string, description: string, hostRef: string): string {
  return core.db.create('task', {
    name_label: label,
    name_description: description,
    allowed_operations: ['cancel'],
    created: xapiDate(),
    finished: EPOCH,
    status: 'pending',
    resident_on: hostRef,
    progress: 0,
    type: '<none/>',
    result: '',
    error_info: [],
    subtask_of: NULL_REF,
    subtasks: [],
    backtrace: '()',
  });
}

/** Ends a task successfully; `result` is stored as an XML-RPC `<value>` fragment, even for JSON-RPC callers. */
export function completeTask(core: SimCore, task: string, type: XType, value: unknown): void {
  const o = core.db.get(task);
  if (!o || o.rec.status !== 'pending') return;
  core.db.update(task, {
    status: 'success',
    progress: 1,
    finished: xapiDate(),
    allowed_operations: [],
    result: type.k === 'void' ? '<value></value>' : core.xml.value(type, value),
  });
}

/** Ends a task in failure with the error list a synchronous call would have returned. */
export function failTask(core: SimCore, task: string, error: readonly string[]): void {
  const o = core.db.get(task);
  if (!o || (o.rec.status !== 'pending' && o.rec.status !== 'cancelling')) return;
  const cancelled = error[0] === 'TASK_CANCELLED';
  core.db.update(task, {
    status: cancelled ? 'cancelled' : 'failure',
    progress: 1,
    finished: xapiDate(),
    allowed_operations: [],
    error_info: [...error],
  });
}
