import type { Handler } from '../core.js';
import { fail } from '../errors.js';
import { NULL_REF, xapiDate } from '../ids.js';
import { createTask } from '../tasks.js';

/** session.*, task.* and event.* handlers. */
export function sessionHandlers(): Record<string, Handler> {
  return {
    'session.login_with_password': ({ core, args, hostIndex }) => {
      const [uname, pwd, , originator] = args as string[];
      const { user, password } = core.credentials;
      if (uname !== user || pwd !== password) throw fail('SESSION_AUTHENTICATION_FAILED', String(uname), 'Authentication failure');
      return core.db.create('session', {
        this_host: core.hostRefs()[hostIndex] ?? NULL_REF,
        this_user: NULL_REF,
        last_active: xapiDate(),
        pool: false,
        is_local_superuser: true,
        auth_user_name: uname,
        originator: originator ?? '',
        tasks: [],
      });
    },
    'session.logout': ({ db, session }) => {
      db.destroy(session);
    },
    'session.local_logout': ({ db, session }) => {
      db.destroy(session);
    },
    'session.change_password': ({ core, args }) => {
      const [oldPwd, newPwd] = args as string[];
      if (oldPwd !== core.credentials.password) throw fail('SESSION_AUTHENTICATION_FAILED', core.credentials.user, 'Authentication failure');
      (core.credentials as { password: string }).password = String(newPwd);
    },
    'session.get_all_subject_identifiers': () => [],

    'task.create': ({ core, args, hostIndex }) => {
      const [label, description] = args as string[];
      return createTask(core, String(label), String(description), core.hostRefs()[hostIndex] ?? NULL_REF);
    },
    'task.destroy': ({ db, args }) => {
      db.destroy(db.expect('task', args[0]).ref);
    },
    'task.cancel': ({ db, args }) => {
      const t = db.expect('task', args[0]);
      const ops = t.rec.allowed_operations as string[];
      if (t.rec.status !== 'pending' || !ops.includes('cancel')) throw fail('OPERATION_NOT_ALLOWED', 'task cannot be cancelled');
      // A pending task here is queued, hung before its work (taskHang) or client-made: none has done anything to
      // undo, so it ends as an XAPI operation noticing the request at a cancellation point would (TASK_CANCELLED).
      // A task past its last cancellation point has no `cancel` in allowed_operations and is refused above.
      db.update(t.ref, {
        status: 'cancelled',
        progress: 1,
        finished: xapiDate(),
        allowed_operations: [],
        error_info: ['TASK_CANCELLED', t.ref],
      });
    },

    'event.from': async ({ core, args, hostIndex }) => {
      const [classes, token, timeout] = args as [string[], string, number];
      if (core.faults.take('eventsLost', 'event.from', undefined, hostIndex)) throw fail('EVENTS_LOST');
      return core.events.from(classes, token, timeout);
    },
    'event.inject': ({ core, args }) => core.events.inject(String(args[0]), String(args[1])),
    'event.get_current_id': ({ db }) => db.generation,
    'event.register': ({ core, args, session }) => core.events.register(session, args[0] as string[]),
    'event.unregister': ({ core, args, session }) => core.events.unregister(session, args[0] as string[]),
    'event.next': async ({ core, session, hostIndex }) => {
      if (core.faults.take('eventsLost', 'event.next', undefined, hostIndex)) throw fail('EVENTS_LOST');
      return core.events.next(session);
    },

    'message.get_all_records': () => ({}),
    'message.get_all': () => [],
    'message.get_since': () => ({}),
    'message.get': () => ({}),
    'message.get_all_records_where': () => ({}),
  };
}
