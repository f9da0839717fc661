import type { Call, Handler, SimCore } from './core.js';
import { XapiFailure, fail, toErrorArray } from './errors.js';
import { coerce } from './coerce.js';
import { accessorFallback, genericHandler } from './generic.js';
import type { ClassSpec, MessageSpec, XType } from './model/classes.js';
import { completeTask, createTask, failTask } from './tasks.js';

/** Where a request arrived. */
export interface CallContext {
  /** Index of the host whose listener received the call. */
  readonly hostIndex: number;
}

/** The result of one call, before transport encoding. `bare` replies skip XAPI's Status wrapper on XML-RPC. */
export type Outcome =
  | { readonly ok: true; readonly value: unknown; readonly type: XType; readonly bare?: boolean }
  | { readonly ok: false; readonly error: readonly string[] };

const STRING_SET: XType = { k: 'set', of: { k: 'string' } };
const REF: XType = { k: 'ref', cls: 'task' };

/**
 * One dispatcher behind both transports: resolves the wire name (including `Class_message` and `Async.`),
 * checks the parameter count, the host role and the session the way XAPI orders those checks, coerces the
 * parameters to their declared types and runs the handler (directly, or inside a task for `Async.`).
 */
export class Dispatcher {
  private readonly core: SimCore;
  private readonly resolved = new Map<string, { spec: MessageSpec; handler: Handler | undefined } | null>();
  private listMethodsCache: string[] | undefined;

  constructor(core: SimCore) {
    this.core = core;
  }

  async call(method: string, params: readonly unknown[], ctx: CallContext): Promise<Outcome> {
    if (!this.core.calls.recording) return this.answer(method, params, ctx);
    const at = Date.now();
    const outcome = await this.answer(method, params, ctx);
    const session = !method.startsWith('session.login') && !method.startsWith('system.') && typeof params[0] === 'string' ? params[0] : '';
    this.core.calls.record({ at, method, session, args: session ? params.slice(1) : [...params], ok: outcome.ok, ...(outcome.ok ? {} : { error: outcome.error[0] }) });
    return outcome;
  }

  private async answer(method: string, params: readonly unknown[], ctx: CallContext): Promise<Outcome> {
    const core = this.core;
    core.stats.record(method);
    const delay = core.faults.latencyFor(method, ctx.hostIndex);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    try {
      if (method === 'system.listMethods') return { ok: true, value: this.listMethods(), type: STRING_SET, bare: true };
      if (method.startsWith('system.isAlive')) return { ok: true, value: params[0] ?? '', type: { k: 'any' } };
      const isAsync = method.startsWith('Async.');
      const name = isAsync ? method.slice(6) : method;
      const r = this.resolve(name);
      if (!r) throw fail('MESSAGE_METHOD_UNKNOWN', method);
      const { spec } = r;
      const sent = params.length - (spec.session ? 1 : 0);
      const required = spec.params.filter((p) => !p.optional).length;
      if (sent < required || sent > spec.params.length) {
        throw fail('MESSAGE_PARAMETER_COUNT_MISMATCH', method, required, Math.max(0, sent));
      }
      this.checkHostRole(ctx, spec);
      const session = spec.session ? this.checkSession(params[0], method, ctx.hostIndex) : '';
      if (spec.removed) throw fail('MESSAGE_REMOVED');
      if (core.faults.take('tooManyPendingTasks', method, undefined, ctx.hostIndex)) throw fail('TOO_MANY_PENDING_TASKS');
      const raw = spec.session ? params.slice(1) : params;
      const args = spec.params.map((p, i) =>
        i < raw.length ? coerce(core.model, p.type, raw[i], `${spec.wire}:${p.name}`) : p.defaultValue,
      );
      const handler = r.handler;
      if (!handler) throw fail('NOT_IMPLEMENTED', spec.wire);
      const hostRef = core.hostRefs()[ctx.hostIndex] ?? '';
      if (isAsync) {
        if (!spec.async) throw new XapiFailure('Fault', `No async mode for this operation (rpc: ${method})`);
        const task = createTask(core, method, '', hostRef);
        this.runTask(task, method, { core, db: core.db, spec, args, session, hostIndex: ctx.hostIndex, task }, handler, ctx.hostIndex);
        return { ok: true, value: task, type: REF };
      }
      const value = await handler({ core, db: core.db, spec, args, session, hostIndex: ctx.hostIndex });
      return { ok: true, value: value === undefined ? '' : value, type: value === undefined ? { k: 'void' } : spec.result };
    } catch (e) {
      if (!(e instanceof XapiFailure)) console.error('xops sim: internal error in', method, e);
      return { ok: false, error: toErrorArray(e) };
    }
  }

  /** Forgets resolved handlers (after a handler is replaced at run time). */
  invalidate(): void {
    this.resolved.clear();
  }

  /** Every synchronous wire name, as `system.listMethods` returns it. */
  listMethods(): string[] {
    if (!this.listMethodsCache) {
      const out: string[] = [];
      for (const c of this.core.model.classes.values()) for (const m of c.messages.values()) out.push(m.wire);
      out.push('system.listMethods');
      this.listMethodsCache = out;
    }
    return this.listMethodsCache;
  }

  private runTask(task: string, method: string, call: Call, handler: Handler, hostIndex: number): void {
    const core = this.core;
    // The fault is chosen when the call arrives, so "the next N calls" counts calls, not scheduling order.
    const injected = core.faults.take('taskFailure', method, undefined, hostIndex);
    const hang = injected ? undefined : core.faults.take('taskHang', method, undefined, hostIndex);
    // A task hung before its operation starts just stays pending: task.cancel ends it with nothing to undo.
    if (hang && !hang.runFirst) return;
    // The task is handed back first and worked on afterwards, so clients see it pending, as with a real host.
    setImmediate(async () => {
      const t = core.db.get(task);
      // Cancelled while queued: the operation never starts (XAPI checks for cancellation before doing work).
      if (!t || t.rec.status !== 'pending') return;
      if (injected) {
        failTask(core, task, [injected.code ?? 'INTERNAL_ERROR', ...(injected.params ?? [])]);
        return;
      }
      try {
        const value = await handler(call);
        // Past its last cancellation point and stuck there: the work is done, the task never says so.
        if (hang) return core.db.set(task, 'allowed_operations', []);
        completeTask(core, task, value === undefined ? { k: 'void' } : call.spec.result, value);
      } catch (e) {
        if (!(e instanceof XapiFailure)) console.error('xops sim: internal error in', method, e);
        if (hang) return core.db.set(task, 'allowed_operations', []);
        failTask(core, task, toErrorArray(e));
      }
    });
  }

  private checkHostRole(ctx: CallContext, spec: MessageSpec): void {
    const db = this.core.db;
    const hosts = this.core.hostRefs();
    const here = hosts[ctx.hostIndex];
    const pool = db.get(this.core.poolRef());
    const master = pool?.rec.master as string | undefined;
    if (!here || !master || here === master) return;
    // A supporter refuses logins and ordinary sessions alike, naming the coordinator so clients can move there.
    if (spec.cls === 'session' && spec.name !== 'login_with_password' && spec.name !== 'logout') return;
    throw fail('HOST_IS_SLAVE', String(db.get(master)?.rec.address ?? ''));
  }

  private checkSession(ref: unknown, method: string, hostIndex: number): string {
    const s = typeof ref === 'string' ? this.core.db.get(ref) : undefined;
    if (!s || s.cls.name !== 'session') throw fail('SESSION_INVALID', String(ref));
    if (this.core.faults.take('sessionInvalid', method, undefined, hostIndex)) throw fail('SESSION_INVALID', String(ref));
    return s.ref;
  }

  /** `Class.message`, or XAPI's alternative `Class_message` wire name. */
  private resolve(name: string): { spec: MessageSpec; handler: Handler | undefined } | null {
    const hit = this.resolved.get(name);
    if (hit !== undefined) return hit;
    let found: { spec: MessageSpec; handler: Handler | undefined } | null = null;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const cls = this.core.model.classes.get(name.slice(0, dot));
      const spec = cls?.messages.get(name.slice(dot + 1));
      if (cls && spec) found = { spec, handler: this.handlerFor(spec, cls) };
    } else {
      // Class names contain underscores themselves (VM_guest_metrics), so try the longest class prefix first.
      const candidates = [...this.core.model.classes.values()].filter((c) => name.startsWith(`${c.name}_`)).sort((a, b) => b.name.length - a.name.length);
      for (const cls of candidates) {
        const spec = cls.messages.get(name.slice(cls.name.length + 1));
        if (spec) {
          found = { spec, handler: this.handlerFor(spec, cls) };
          break;
        }
      }
    }
    this.resolved.set(name, found);
    return found;
  }

  private handlerFor(spec: MessageSpec, cls: ClassSpec): Handler | undefined {
    return this.core.handlers.get(spec.wire) ?? genericHandler(spec) ?? accessorFallback(spec, cls) ?? stubFor(spec);
  }
}

/** Checks with nothing to check in a simulator succeed (assert_*, update_allowed_operations). */
function stubFor(spec: MessageSpec): Handler | undefined {
  if (spec.name.startsWith('assert_') || spec.name === 'update_allowed_operations') return () => undefined;
  return undefined;
}
