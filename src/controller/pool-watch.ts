import type { ObservedState } from '../model/observed.js';
import type { ObservedChange } from '../observe/diff.js';
import { PoolObserver, type ResyncInfo } from '../observe/observer.js';
import { takeSnapshot } from '../observe/snapshot.js';
import type { XapiCaller } from '../xapi/caller.js';
import type { XapiClient } from '../xapi/client.js';
import { managedAddresses } from './drift.js';
import { systemClock, type Clock } from './types.js';

/** Where a reconcile gets the pool's current state from. */
export interface PoolView {
  /**
   * The pool as it is now: reflects every change the pool committed before the call. Rejects when
   * the pool does not answer within the view's timeout, or when `signal` aborts.
   */
  observe(signal?: AbortSignal): Promise<ObservedState>;
  /**
   * Marks `address` as being changed by xops itself until `settle()`: XAPI events about it are its
   * own apply's echo, not drift, and must not ask for another reconcile.
   */
  applying(address: string): void;
  /** Waits until the pool's echo of xops' own changes has been seen, then stops ignoring it. */
  settle(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** A PoolView that reads the whole pool every time (no event stream): for callers without an XapiClient. */
export function snapshotView(caller: XapiCaller): PoolView {
  return {
    observe: () => takeSnapshot(caller),
    applying() {},
    settle: async () => {},
    stop: async () => {},
  };
}

/** Configuration of a WatchedPool. */
export interface WatchedPoolOptions {
  /** Called (debounced) with the managed addresses that changed behind xops' back. */
  onManagedChange: (addresses: string[]) => void;
  /** Quiet time after the last relevant event before `onManagedChange` fires; default 100 ms. */
  debounceMs?: number;
  /** Repository identity: objects marked by another repository are not ours to watch. */
  repo?: string;
  /** How long `observe()` waits for the event stream to catch up before giving up; default 30 s. */
  observeTimeoutMs?: number;
  /** `event.from` long-poll length; default 30 s. */
  pollSeconds?: number;
  clock?: Clock;
  onResync?: (info: ResyncInfo) => void;
}

/**
 * One long-lived PoolObserver per pool, shared by every reconcile: started on the first `observe()`
 * (a cold snapshot), then each reconcile only waits for a barrier (one short `event.from`) instead
 * of reading the pool again. Its change stream is also the XAPI-event trigger: a change to a
 * managed object (or to a VBD, VDI, VIF, PIF, PBD... belonging to one) asks for a reconcile, except
 * for the echo of xops' own apply.
 */
export class WatchedPool implements PoolView {
  private readonly observer: PoolObserver;
  private readonly opts: WatchedPoolOptions;
  private readonly clock: Clock;
  private starting: Promise<ObservedState> | undefined;
  /** The state before the batch being reported, to look up what a deleted object belonged to. */
  private previous: ObservedState | undefined;
  private latest: ObservedState | undefined;
  private readonly ownChanges = new Set<string>();
  private readonly waiting = new Set<string>();
  private timer: unknown;

  constructor(client: XapiClient, options: WatchedPoolOptions) {
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.observer = new PoolObserver(client, { pollSeconds: options.pollSeconds });
    this.observer.on('change', (change) => this.onChange(change));
    if (options.onResync) this.observer.on('resync', options.onResync);
  }

  async observe(signal?: AbortSignal): Promise<ObservedState> {
    if (!this.latest) {
      // A failed cold snapshot leaves the observer unstarted: the next reconcile tries again.
      this.starting ??= this.observer.start().finally(() => (this.starting = undefined));
      this.latest = await this.starting;
      return this.latest;
    }
    await this.withTimeout(this.observer.barrier(), 'the pool event stream did not catch up', signal);
    return this.observer.current();
  }

  applying(address: string): void {
    this.ownChanges.add(address);
  }

  /** The newest state the event stream has delivered, without waiting; undefined before the first observe(). */
  latestState(): ObservedState | undefined {
    return this.latest ? this.observer.current() : undefined;
  }

  async settle(signal?: AbortSignal): Promise<void> {
    if (this.ownChanges.size === 0) return;
    try {
      if (this.latest) await this.withTimeout(this.observer.barrier(), 'the pool event stream did not catch up', signal);
    } finally {
      this.ownChanges.clear();
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.latest || this.starting) await this.observer.stop();
  }

  private onChange(change: ObservedChange): void {
    const current = this.observer.current();
    // Changes of one batch are reported after the batch is applied: the first one of a batch sees a
    // new state object, and the one before it is what the deleted objects were part of.
    if (current !== this.latest) {
      this.previous = this.latest;
      this.latest = current;
    }
    let relevant = false;
    for (const address of managedAddresses(change, this.previous, current, this.opts.repo)) {
      if (this.ownChanges.has(address)) continue;
      this.waiting.add(address);
      relevant = true;
    }
    if (!relevant) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const addresses = [...this.waiting];
      this.waiting.clear();
      this.opts.onManagedChange(addresses);
    }, this.opts.debounceMs ?? 100);
  }

  private withTimeout<T>(promise: Promise<T>, what: string, signal?: AbortSignal): Promise<T> {
    const ms = this.opts.observeTimeoutMs ?? 30_000;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new PoolNotAnsweringError(`${what} within ${ms} ms`)), ms);
      const onAbort = () => reject(new PoolNotAnsweringError(`${what}: shutting down`));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      promise.then(resolve, reject).finally(() => {
        this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      });
    });
  }
}

/** The pool did not answer in time (or the controller is stopping while waiting for it). */
export class PoolNotAnsweringError extends Error {
  override name = 'PoolNotAnsweringError';
}
