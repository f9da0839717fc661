import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { OBSERVED_CLASSES, type ObservedClass, type ObservedState, type Ref, type XapiRecord } from '../model/observed.js';
import { XapiError } from '../xapi/caller.js';
import type { XapiClient } from '../xapi/client.js';
import { decodeRecord } from '../xapi/decode.js';
import { XapiTransportError } from '../xapi/errors.js';
import { backoffDelay, sleep } from '../xapi/retry.js';
import { eventTimeout, type EventBatch } from '../xapi/task-watcher.js';
import { observedClassOf } from './classes.js';
import { diffStates, hostAddresses, type ObservedChange } from './diff.js';
import { valuesEqual } from './equal.js';
import { takeSnapshot } from './snapshot.js';
import { sealMap, sealRecord, sealState } from '../model/sealed.js';
import { indexDerived } from '../model/observed-index.js';
import { noteReplaced } from '../model/map-lineage.js';

/** Tuning for a PoolObserver. */
export interface PoolObserverOptions {
  /** How long one `event.from` waits for changes before returning empty (default 30 s). */
  pollSeconds?: number;
  logger?: Logger;
}

/** Why the observer threw its cache away and read the pool again. */
export interface ResyncInfo {
  reason: 'events-lost' | 'session-changed' | 'token-invalid';
  /** How many objects differed from the cache. */
  changes: number;
}

const EVENT_CLASSES = OBSERVED_CLASSES.map((c) => c.toLowerCase());

/**
 * Keeps an ObservedState current: a cold snapshot, then an `event.from` loop from the snapshot's
 * token. Each batch produces a new ObservedState (maps of unchanged classes are shared), so a reader
 * holding `current()` keeps a consistent view while the observer moves on.
 *
 * Events: `change` (ObservedChange, once per object that really changed), `resync` (ResyncInfo, after
 * a full re-fetch; the changes it found are also emitted), `stalled` (the event loop keeps failing).
 */
export class PoolObserver extends EventEmitter {
  private readonly client: XapiClient;
  private readonly pollSeconds: number;
  private readonly logger: Logger | undefined;
  private state: ObservedState | undefined;
  private syncedGeneration = -1;
  private stopped = false;
  private loopDone: Promise<void> | undefined;
  private poll: { ac: AbortController; waiting: boolean } | undefined;
  private barriers: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(client: XapiClient, opts: PoolObserverOptions = {}) {
    super();
    this.client = client;
    this.pollSeconds = opts.pollSeconds ?? 30;
    this.logger = opts.logger;
  }

  override on(event: 'change', listener: (change: ObservedChange) => void): this;
  override on(event: 'resync', listener: (info: ResyncInfo) => void): this;
  override on(event: 'stalled', listener: (err: unknown) => void): this;
  override on(event: string, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  /** Takes the cold snapshot and starts following events. Resolves with the snapshot. */
  async start(): Promise<ObservedState> {
    if (this.state) return this.state;
    this.syncedGeneration = this.client.sessionGeneration;
    this.state = await takeSnapshot(this.client);
    sealState(this.state);
    this.client.setKnownHosts(hostAddresses(this.state));
    this.loopDone = this.loop();
    return this.state;
  }

  /** The latest observed state. Never mutated afterwards: later changes produce a new object. */
  current(): ObservedState {
    if (!this.state) throw new Error('PoolObserver.current() called before start()');
    return this.state;
  }

  /**
   * Resolves once current() reflects every change the pool committed before this call: the pending
   * long-poll is cut short and replaced by one that returns at once with whatever is new.
   */
  barrier(): Promise<void> {
    if (!this.state || this.stopped) return Promise.reject(new Error('PoolObserver is not running'));
    return new Promise((resolve, reject) => {
      this.barriers.push({ resolve, reject });
      if (this.poll?.waiting) this.poll.ac.abort();
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.poll?.ac.abort();
    await this.loopDone;
    for (const b of this.barriers.splice(0)) b.reject(new Error('PoolObserver stopped'));
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      // Barriers asked for before this poll is sent are satisfied by its reply.
      const served = this.barriers.splice(0);
      const seconds = served.length > 0 ? 0 : this.pollSeconds;
      const ac = new AbortController();
      this.poll = { ac, waiting: seconds > 0 };
      let batch: EventBatch;
      try {
        batch = (await this.client.request('event.from', [EVENT_CLASSES, this.current().token, eventTimeout(seconds)], {
          signal: ac.signal,
          timeoutMs: (seconds + 30) * 1000,
        })) as EventBatch;
      } catch (err) {
        this.poll = undefined;
        this.barriers.unshift(...served);
        if (this.stopped) break;
        if (this.client.closed) {
          // Nothing more can be observed through a closed client.
          this.stopped = true;
          for (const b of this.barriers.splice(0)) b.reject(new Error('PoolObserver: client closed'));
          break;
        }
        if (err instanceof XapiTransportError && err.code === 'ABORTED') continue; // cut short by barrier()
        if (err instanceof XapiError && (err.code === 'EVENTS_LOST' || err.code === 'EVENT_FROM_TOKEN_PARSE_FAILURE')) {
          await this.resyncOrBackOff(err.code === 'EVENTS_LOST' ? 'events-lost' : 'token-invalid', ++failures);
          continue;
        }
        failures++;
        this.logger?.warn({ err: String(err), failures }, 'event.from failed; retrying');
        if (failures >= 3) this.emit('stalled', err);
        await sleep(backoffDelay(failures, 250, 10_000) + 50);
        continue;
      }
      this.poll = undefined;
      failures = 0;
      if (this.client.sessionGeneration !== this.syncedGeneration) {
        // A new login (expiry, failover): events may have been missed in between.
        this.barriers.unshift(...served);
        await this.resyncOrBackOff('session-changed', 1);
        continue;
      }
      this.apply(batch);
      for (const b of served) b.resolve();
    }
  }

  private async resyncOrBackOff(reason: ResyncInfo['reason'], attempt: number): Promise<void> {
    try {
      await this.resync(reason);
      for (const b of this.barriers.splice(0)) b.resolve();
    } catch (err) {
      if (this.stopped) return;
      this.logger?.warn({ err: String(err), reason }, 'full re-fetch failed; retrying');
      await sleep(backoffDelay(attempt, 250, 10_000) + 50);
    }
  }

  /** Reads the whole pool again and tells listeners what differs from the cache. */
  private async resync(reason: ResyncInfo['reason']): Promise<void> {
    const generation = this.client.sessionGeneration;
    const fresh = await takeSnapshot(this.client);
    if (this.stopped) return;
    sealState(fresh);
    const before = this.current();
    const changes = diffStates(before, fresh);
    this.state = fresh;
    this.syncedGeneration = generation;
    this.client.setKnownHosts(hostAddresses(fresh));
    this.logger?.info({ reason, changes: changes.length }, 'observed state re-fetched');
    for (const c of changes) this.emit('change', c);
    this.emit('resync', { reason, changes: changes.length } satisfies ResyncInfo);
  }

  /** Applies one event batch copy-on-write, then notifies listeners of the objects that really changed. */
  private apply(batch: EventBatch): void {
    const before = this.current();
    const records = { ...before.records } as Record<ObservedClass, Map<Ref, XapiRecord>>;
    const copied = new Set<ObservedClass>();
    const changes: ObservedChange[] = [];
    for (const ev of batch.events) {
      const cls = observedClassOf(ev.class);
      if (!cls) continue;
      // A class is copied only when one of its objects really changes: an event that changes
      // nothing keeps the map, and with it everything derived from it (see model/sealed.ts).
      const writable = () => {
        if (!copied.has(cls)) {
          records[cls] = new Map(records[cls]);
          copied.add(cls);
        }
        return records[cls];
      };
      const had = records[cls].get(ev.ref);
      if (ev.operation === 'del') {
        if (had && writable().delete(ev.ref)) changes.push({ cls, ref: ev.ref, operation: 'del' });
        continue;
      }
      if (!ev.snapshot) continue;
      const rec = decodeRecord(cls, ev.snapshot as XapiRecord);
      // The first batch replays changes the snapshot already has; so does event.inject.
      if (had && valuesEqual(had, rec)) continue;
      sealRecord(rec);
      writable().set(ev.ref, rec);
      changes.push({ cls, ref: ev.ref, operation: had ? 'mod' : 'add' });
    }
    for (const cls of copied) {
      sealMap(records[cls], false);
      // Only records replaced in place keep the map's order (a removed one added back goes last).
      const ofClass = changes.filter((c) => c.cls === cls);
      if (ofClass.every((c) => c.operation === 'mod')) {
        const replaced = ofClass.map((c) => c.ref);
        indexDerived(records[cls], before.records[cls], replaced);
        noteReplaced(records[cls], before.records[cls], replaced);
      }
    }
    this.state = { token: batch.token, observedAt: new Date().toISOString(), records: records as ObservedState['records'] };
    if (copied.has('host') || copied.has('pool')) this.client.setKnownHosts(hostAddresses(this.state));
    for (const c of changes) this.emit('change', c);
  }
}
