import type { DbObject, SimDatabase } from './database.js';
import { fail } from './errors.js';
import type { ClassSpec } from './model/classes.js';

/** One entry of `event.from`'s `events` (snapshot left out for `del`). */
export interface EventRecord {
  /** The database generation of the change, as a decimal string (XAPI sends it as a string). */
  readonly id: string;
  readonly timestamp: string;
  /** Lower-case class name. */
  readonly class: string;
  readonly operation: 'add' | 'mod' | 'del';
  readonly ref: string;
  readonly snapshot?: DbObject;
}

/** The result of `event.from`. */
export interface EventBatch {
  readonly events: EventRecord[];
  readonly valid_ref_counts: Record<string, number>;
  readonly token: string;
}

const pad = (n: number): string => String(n).padStart(20, '0');

/** XAPI's token form: database generation and message generation, both `%020d`. */
export function formatToken(gen: number): string {
  return `${pad(gen)},${pad(0)}`;
}

/** `''` means "from the beginning" (generation 0); anything but `N,M` fails like XAPI. */
export function parseToken(token: string): number {
  if (token === '') return 0;
  const m = /^(\d+),(\d+)$/.exec(token);
  if (!m) throw fail('EVENT_FROM_TOKEN_PARSE_FAILURE', token);
  return Number(m[1]);
}

/** Turns subscription strings (`*`, `vm`, `vm/<ref>`) into a filter; names compare in lower case. */
export function subscriptionFilter(classes: readonly string[]): (cls: ClassSpec, ref: string) => boolean {
  let all = false;
  const names = new Set<string>();
  const objects = new Set<string>();
  for (const entry of classes) {
    const parts = entry.split('/');
    if (parts.length > 2) throw fail('EVENT_SUBSCRIPTION_PARSE_FAILURE', entry);
    if (parts.length === 2) objects.add(`${parts[0]!.toLowerCase()}/${parts[1]}`);
    else if (entry === '*') all = true;
    else names.add(entry.toLowerCase());
  }
  return (cls, ref) =>
    cls.generatesEvents && cls.name !== 'session' && cls.name !== 'event' && (all || names.has(cls.lname) || objects.has(`${cls.lname}/${ref}`));
}

/**
 * `event.from` and the legacy `event.register`/`next`. Waiting calls park here until the database changes or
 * their timeout passes; `close()` releases them when the simulator stops.
 */
export class EventHub {
  private readonly db: SimDatabase;
  private readonly waiting = new Set<() => void>();
  private closed = false;
  /** Legacy registrations: session ref -> subscribed classes and the generation last delivered. */
  private readonly registrations = new Map<string, { classes: Set<string>; gen: number }>();

  constructor(db: SimDatabase) {
    this.db = db;
  }

  /** `event.from(classes, token, timeout)`: returns as soon as there is a matching change, else after `timeout` s. */
  async from(classes: readonly string[], token: string, timeoutSeconds: number): Promise<EventBatch> {
    const since = parseToken(token);
    if (since > 0 && this.db.isTooOld(since)) throw fail('EVENTS_LOST');
    const accept = subscriptionFilter(classes);
    const deadline = Date.now() + Math.max(0, Math.min(timeoutSeconds, 86_400)) * 1000;
    for (;;) {
      const changes = this.db.changesSince(since, accept);
      const remaining = deadline - Date.now();
      if (changes.length > 0 || remaining <= 0 || this.closed) return this.batch(changes);
      await this.waitForChange(remaining);
    }
  }

  /** `event.inject(class, ref)`: a `mod` event for the object; returns the token just after it. */
  inject(cls: string, ref: string): string {
    const spec = this.db.model.byLowerName.get(cls.toLowerCase());
    const o = this.db.get(ref);
    if (!spec || !o || o.cls !== spec) throw fail('HANDLE_INVALID', cls, ref);
    return formatToken(this.db.touch(ref));
  }

  register(session: string, classes: readonly string[]): void {
    const r = this.registrations.get(session) ?? { classes: new Set<string>(), gen: this.db.generation };
    for (const c of classes) r.classes.add(c);
    this.registrations.set(session, r);
  }

  unregister(session: string, classes: readonly string[]): void {
    const r = this.registrations.get(session);
    if (!r) return;
    for (const c of classes) r.classes.delete(c);
  }

  /** Legacy `event.next`: blocks until something the session registered for changes. */
  async next(session: string): Promise<EventRecord[]> {
    const r = this.registrations.get(session);
    if (!r) throw fail('SESSION_NOT_REGISTERED', session);
    const accept = subscriptionFilter([...r.classes]);
    for (;;) {
      const changes = this.db.changesSince(r.gen, accept);
      if (changes.length > 0 || this.closed) {
        r.gen = this.db.generation;
        return this.batch(changes).events;
      }
      await this.waitForChange(30_000);
    }
  }

  /** Releases every waiting call (they answer with what they have). */
  close(): void {
    this.closed = true;
    for (const w of [...this.waiting]) w();
  }

  private batch(changes: ReturnType<SimDatabase['changesSince']>): EventBatch {
    return {
      events: changes.map((c) => ({
        id: String(c.gen),
        timestamp: '0.0',
        class: c.cls.lname,
        operation: c.op,
        ref: c.ref,
        ...(c.obj ? { snapshot: c.obj } : {}),
      })),
      valid_ref_counts: this.db.refCounts(),
      token: formatToken(this.db.generation),
    };
  }

  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        unsubscribe();
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const unsubscribe = this.db.onChange(done);
      this.waiting.add(done);
    });
  }
}
