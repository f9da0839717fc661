import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { XapiError, type XapiCaller } from '../xapi/caller.js';
import { systemClock, type Clock } from './types.js';
import { LEASE_KEY } from '../model/observed.js';

/**
 * One controller per pool, through a lease kept in the pool's `other_config`:
 * `other_config["xops.lease"] = "<holder>|<since ISO>|<expiry ISO>"` (older values without `since`
 * are read too). `since` is when the holder took the lease; renewals keep it.
 *
 * XAPI offers one atomic primitive on map keys: `add_to_other_config` fails with MAP_DUPLICATE_KEY
 * when the key is present. There is no compare-and-swap, so:
 * - **Taking a free lease** is a plain add: of two instances adding at once, exactly one succeeds.
 * - **Renewing** is remove + add (there is no atomic replace). In the gap between the two, another
 *   instance may add its own lease; the holder's add then fails with MAP_DUPLICATE_KEY and it knows at
 *   once that it lost, so the gap never yields two holders, only (rarely) a handover. A renewal
 *   that reaches the pool only after its lease expired (the holder stalled) is a takeover in all but
 *   name: it settles and reads back like one (below).
 * - **Taking over an expired lease** (its holder died) is remove + add, and here two instances can
 *   race: A removes the stale value and adds its own, then B — which read the stale value before A's
 *   add — removes A's value and adds its own. Both adds succeed. So after adding, the taker waits
 *   `takeoverSettleMs` (longer than the remove-add round trips of a competitor that read the same
 *   stale value) and reads the key back: only the instance whose value is there holds the lease. The
 *   other backs off. Every renewal reads the key first as well, so a loser that was somehow missed
 *   learns it within one renewal interval.
 * - Expiry is judged on the reader's clock: clocks of instances must agree to well within the TTL.
 * - A holder that cannot reach XAPI to renew stops considering itself the holder when its own expiry
 *   passes (`held()`), the same moment others may take over.
 */
export interface LeaseOptions {
  caller: XapiCaller;
  /** Who holds it: unique per process, without `|`. Default `<hostname>:<pid>:<random>`. */
  holder?: string;
  /** How long a lease lasts without renewal; default 60 s. */
  ttlMs?: number;
  /** Wait after taking over an expired lease before reading it back; default 2 s. */
  takeoverSettleMs?: number;
  key?: string;
  clock?: Clock;
  /**
   * Count a missing key as free only when it is still missing after the settle time, even at the
   * first look (fleet replicas, which keep trying each other's pools: a renewal's remove-then-add gap
   * must not hand a pool over while its holder's reconcile is still writing). Default false: only
   * after having seen another holder's live lease.
   */
  confirmFree?: boolean;
}

/** What an instance knows about the lease after a call. */
export type LeaseState =
  | { held: true; holder: string; expiresAt: string; since?: string }
  | { held: false; holder: string; heldBy?: string; expiresAt?: string; since?: string; reason: string };

/** A lease value as read from the pool. */
export interface ParsedLease {
  holder: string;
  expiresAt: number;
  /** When the holder took it (ms); absent in values written before `since` existed. */
  since?: number;
}

export { LEASE_KEY };

/** A parsed lease value, or undefined when the value is not one (treated as expired). */
export function parseLease(value: string | undefined): ParsedLease | undefined {
  if (!value) return undefined;
  const parts = value.split('|');
  if (parts.length < 2 || parts.length > 3 || !parts[0]) return undefined;
  const expiresAt = Date.parse(parts[parts.length - 1]!);
  if (Number.isNaN(expiresAt)) return undefined;
  const since = parts.length === 3 ? Date.parse(parts[1]!) : NaN;
  return { holder: parts[0], expiresAt, ...(Number.isNaN(since) ? {} : { since }) };
}

export function defaultHolder(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** The lease of one pool as seen from one instance. Each method is one attempt; `LeaseKeeper` repeats them. */
export class PoolLease {
  readonly holder: string;
  readonly ttlMs: number;
  private readonly caller: XapiCaller;
  private readonly key: string;
  private readonly clock: Clock;
  private readonly settleMs: number;
  private readonly confirmFree: boolean;
  private poolRef: string | undefined;
  /** Expiry of our lease as we last wrote it; 0 when we do not hold it. */
  private ourExpiry = 0;
  /** When we took the lease we hold (ms); kept across renewals, reset when we lose it. */
  private ourSince: number | undefined;
  /** Another holder's lease as we last read it (see acquire). */
  private seenOther: ParsedLease | undefined;

  constructor(options: LeaseOptions) {
    this.caller = options.caller;
    this.holder = options.holder ?? defaultHolder();
    if (this.holder.includes('|')) throw new Error(`lease holder must not contain '|': ${this.holder}`);
    this.ttlMs = options.ttlMs ?? 60_000;
    this.settleMs = options.takeoverSettleMs ?? 2_000;
    this.confirmFree = options.confirmFree ?? false;
    this.key = options.key ?? LEASE_KEY;
    this.clock = options.clock ?? systemClock;
  }

  /** True while our last successful write has not expired by our own clock. */
  held(): boolean {
    return this.ourExpiry > this.clock.now();
  }

  /** Takes the lease if it is free or expired; otherwise says who holds it until when. */
  async acquire(): Promise<LeaseState> {
    const pool = await this.pool();
    // Another holder's live lease was there when we last looked: a missing key now is most likely its
    // renewal (remove, then add), and adding into that gap would leave its reconcile in flight writing
    // beside ours. Only a key still missing after the settle time is a release (or a crash-free exit).
    const seen = this.seenOther;
    const wary = this.confirmFree || (seen !== undefined && seen.expiresAt > this.clock.now());
    if (wary && (await this.read(pool)) === undefined) {
      if (this.settleMs > 0) await this.pause(this.settleMs);
      const back = parseLease(await this.read(pool));
      if (back && back.holder !== this.holder && back.expiresAt > this.clock.now()) return this.lost(`pool held by ${back.holder}`, back);
    }
    this.seenOther = undefined;
    const value = this.freshValue();
    if (await this.add(pool, value)) return this.readBack(pool, value);
    const current = await this.read(pool);
    // Gone between our add and this read: a holder renewing (remove + add) or releasing. Removing
    // now could remove the holder's fresh value, so only a plain add may take it.
    if (current === undefined) {
      if (await this.add(pool, value)) return this.ours(value);
      return this.lost('another instance holds the lease', parseLease(await this.read(pool)));
    }
    const parsed = parseLease(current);
    // Ours already: this instance restarted with the same identity, and takes its lease back at once.
    if (parsed?.holder === this.holder) {
      this.ourSince ??= parsed.since;
      return this.renew();
    }
    if (parsed && parsed.expiresAt > this.clock.now()) return this.lost(`pool held by ${parsed.holder}`, parsed);
    // Expired (or unreadable): take it over, then read back after the settle time (see above).
    await this.caller.call('pool.remove_from_other_config', pool, this.key);
    const takeover = this.freshValue();
    if (!(await this.add(pool, takeover))) return this.lost('another instance took the expired lease first', parseLease(await this.read(pool)));
    if (this.settleMs > 0) await this.pause(this.settleMs);
    return this.readBack(pool, takeover);
  }

  /** Extends our lease; reports it lost when someone else's value is there. */
  async renew(): Promise<LeaseState> {
    const pool = await this.pool();
    const parsed = parseLease(await this.read(pool));
    if (parsed?.holder !== this.holder) return this.lost(parsed ? `lease taken by ${parsed.holder}` : 'lease vanished', parsed);
    const value = this.freshValue();
    await this.caller.call('pool.remove_from_other_config', pool, this.key);
    if (!(await this.add(pool, value))) return this.lost('another instance took the lease during renewal', parseLease(await this.read(pool)));
    // A renewal whose remove landed after our old expiry raced any instance that read the expired value
    // meanwhile: that one's remove may follow our add and its takeover succeed. Like a takeover, hold only
    // once our value is still there after the settle time; until then start nothing.
    // Past the expiry itself, not within a margin of it: with a short TTL every renewal would be "late"
    // and the holder would let go of its lease for the settle time at each one.
    if (this.clock.now() >= parsed.expiresAt) {
      this.ourExpiry = 0;
      if (this.settleMs > 0) await this.pause(this.settleMs);
      return this.readBack(pool, value);
    }
    return this.ours(value);
  }

  /** Gives the lease up if we hold it, so another instance may take over at once. */
  async release(): Promise<void> {
    // At once, before any await: from here on the loop starts no reconcile on this lease.
    this.ourExpiry = 0;
    const pool = await this.pool();
    const parsed = parseLease(await this.read(pool));
    if (parsed?.holder === this.holder) await this.caller.call('pool.remove_from_other_config', pool, this.key);
  }

  /** Reads who holds the lease without taking it; `reason` says why this instance does not try. */
  async peek(reason: string): Promise<LeaseState> {
    const parsed = parseLease(await this.read(await this.pool()));
    const live = parsed && parsed.expiresAt > this.clock.now() ? parsed : undefined;
    return live ? this.lost(`pool held by ${live.holder}`, live) : { held: false, holder: this.holder, reason };
  }

  private async readBack(pool: string, value: string): Promise<LeaseState> {
    const current = await this.read(pool);
    if (current === value) return this.ours(value);
    return this.lost('another instance took over the expired lease at the same time', parseLease(current));
  }

  private ours(value: string): LeaseState {
    const parsed = parseLease(value)!;
    this.ourExpiry = parsed.expiresAt;
    this.ourSince = parsed.since;
    return {
      held: true,
      holder: this.holder,
      expiresAt: new Date(parsed.expiresAt).toISOString(),
      ...(parsed.since !== undefined ? { since: new Date(parsed.since).toISOString() } : {}),
    };
  }

  private lost(reason: string, other: ParsedLease | undefined): LeaseState {
    this.ourExpiry = 0;
    this.ourSince = undefined;
    this.seenOther = other && other.holder !== this.holder ? other : undefined;
    return {
      held: false,
      holder: this.holder,
      reason,
      ...(other ? { heldBy: other.holder, expiresAt: new Date(other.expiresAt).toISOString() } : {}),
      ...(other?.since !== undefined ? { since: new Date(other.since).toISOString() } : {}),
    };
  }

  /**
   * Waits `ms` on the lease's clock. The clock's timers do not keep the process alive, but this wait
   * is awaited work (a CLI apply may have nothing else pending): a plain timer holds the process meanwhile.
   */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const alive = setTimeout(() => undefined, ms + 1_000);
      this.clock.setTimeout(() => {
        clearTimeout(alive);
        resolve();
      }, ms);
    });
  }

  private freshValue(): string {
    const now = this.clock.now();
    const since = this.ourSince ?? now;
    return `${this.holder}|${new Date(since).toISOString()}|${new Date(now + this.ttlMs).toISOString()}`;
  }

  /** add_to_other_config; false when the key is already there. */
  private async add(pool: string, value: string): Promise<boolean> {
    try {
      await this.caller.call('pool.add_to_other_config', pool, this.key, value);
      return true;
    } catch (err) {
      if (err instanceof XapiError && err.code === 'MAP_DUPLICATE_KEY') return false;
      throw err;
    }
  }

  private async read(pool: string): Promise<string | undefined> {
    const config = await this.caller.call<Record<string, string>>('pool.get_other_config', pool);
    return config[this.key];
  }

  private async pool(): Promise<string> {
    if (!this.poolRef) {
      const pools = await this.caller.call<string[]>('pool.get_all');
      if (pools.length !== 1) throw new Error(`expected exactly one pool object, found ${pools.length}`);
      this.poolRef = pools[0];
    }
    return this.poolRef;
  }
}

/** Options of the keeper that repeats acquire/renew on a timer. */
export interface LeaseKeeperOptions {
  /** How often to renew (when held) or try again (when not); default a third of the TTL. */
  intervalMs?: number;
  clock?: Clock;
  /** Called after every attempt, with what it found or the error that stopped it. */
  onUpdate?: (state: LeaseState | undefined, error?: unknown) => void;
  /** Called when the lease becomes ours (the loop then asks for a reconcile). */
  onAcquired?: () => void;
  /** A fleet's fair share (src/fleet/): when absent, the keeper always tries to hold the lease. */
  share?: LeaseShare;
}

/**
 * How a replica of a fleet limits itself to its fair share of the pools: asked before each attempt.
 * `mayAcquire` false: the keeper only reads who holds the lease; `mustRelease` true: it gives up the
 * lease it holds, so that another replica can take it.
 */
export interface LeaseShare {
  mayAcquire(): boolean;
  mustRelease(): boolean;
}

/** Keeps trying to take a pool's lease and, once held, renews it until stopped. */
export class LeaseKeeper {
  readonly lease: PoolLease;
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly opts: LeaseKeeperOptions;
  private timer: unknown;
  private stopped = false;
  private last: LeaseState | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(lease: PoolLease, options: LeaseKeeperOptions = {}) {
    this.lease = lease;
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.intervalMs = options.intervalMs ?? Math.max(1_000, Math.floor(lease.ttlMs / 3));
  }

  /** Makes the first attempt and resolves with its result; later attempts run on the timer. */
  async start(): Promise<LeaseState | undefined> {
    await this.tick();
    return this.last;
  }

  /** Why this instance must not act now, or undefined when it holds the lease. */
  standbyReason(): string | undefined {
    if (this.lease.held()) return undefined;
    if (this.last && !this.last.held) return `${this.last.reason}${this.last.expiresAt ? ` until ${this.last.expiresAt}` : ''}`;
    return 'pool lease not held (XAPI unreachable or not tried yet)';
  }

  /** One acquire-or-renew attempt, then schedules the next. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    const wasHeld = this.lease.held();
    const attempt = (async () => {
      try {
        const share = this.opts.share;
        if (wasHeld && share?.mustRelease()) {
          await this.lease.release();
          this.last = { held: false, holder: this.lease.holder, reason: 'released to another replica: this one holds more than its fair share' };
          this.opts.onUpdate?.(this.last);
          return;
        }
        if (!wasHeld && share && !share.mayAcquire()) {
          this.last = await this.lease.peek('this replica holds its fair share of the pools');
          this.opts.onUpdate?.(this.last);
          return;
        }
        this.last = wasHeld ? await this.lease.renew() : await this.lease.acquire();
        this.opts.onUpdate?.(this.last);
        if (this.last.held && !wasHeld) this.opts.onAcquired?.();
      } catch (err) {
        this.opts.onUpdate?.(this.last, err);
      }
    })();
    this.inFlight = attempt;
    await attempt;
    this.inFlight = undefined;
    if (!this.stopped) this.timer = this.clock.setTimeout(() => void this.tick(), this.intervalMs);
  }

  /** Stops renewing and releases the lease (best effort: an unreachable pool lets it expire). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    await this.inFlight;
    await this.lease.release().catch(() => undefined);
  }
}
