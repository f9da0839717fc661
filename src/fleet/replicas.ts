import { XapiError, type XapiCaller } from '../xapi/caller.js';
import { LEASE_KEY, parseLease } from '../controller/lease.js';

/** The prefix of the replicas' heartbeat keys in each pool's other_config. */
export const REPLICA_KEY_PREFIX = 'xops.replica.';

/** At most this many heartbeat keys are read from one pool: a bound on what a pool can make us hold. */
const MAX_REPLICAS_SEEN = 100;

/**
 * Who else is alive, learnt from the pools themselves (no store of our own): every replica writes
 * `xops.replica.<holder> = <expiry>` into each pool's other_config once per beat and reads the others'
 * heartbeats and the pool's lease holder. A replica that holds no pool is thus still counted, and a
 * dead one drops out when its heartbeats expire (one TTL after its last beat).
 */
export class ReplicaRoster {
  readonly self: string;
  private readonly ttlMs: number;
  private readonly now: () => number;
  /** Per pool, the other replicas seen there and until when they count. */
  private readonly seen = new Map<string, Map<string, number>>();

  constructor(options: { self: string; ttlMs: number; now?: () => number }) {
    this.self = options.self;
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? Date.now;
  }

  /** The replicas alive now, this one included (sorted). */
  live(): string[] {
    const now = this.now();
    const all = new Set<string>([this.self]);
    for (const holders of this.seen.values()) for (const [holder, until] of holders) if (until > now) all.add(holder);
    return [...all].sort();
  }

  /**
   * One heartbeat on one pool: reads its other_config, records the live lease holder and heartbeats,
   * removes heartbeats long expired, and renews our own. Rejects when the pool cannot be reached
   * (what was seen there before keeps counting until it expires).
   */
  async beat(pool: string, caller: XapiCaller): Promise<void> {
    const ref = (await caller.call<string[]>('pool.get_all'))[0];
    if (!ref) throw new Error('no pool object');
    const config = await caller.call<Record<string, string>>('pool.get_other_config', ref);
    const now = this.now();
    const holders = new Map<string, number>();
    const lease = parseLease(config[LEASE_KEY]);
    if (lease && lease.holder !== this.self && lease.expiresAt > now) holders.set(lease.holder, lease.expiresAt);
    const stale: string[] = [];
    for (const [key, value] of Object.entries(config).filter(([k]) => k.startsWith(REPLICA_KEY_PREFIX)).slice(0, MAX_REPLICAS_SEEN)) {
      const holder = key.slice(REPLICA_KEY_PREFIX.length);
      const until = Date.parse(value);
      if (holder === this.self) continue;
      if (Number.isNaN(until) || until + this.ttlMs < now) stale.push(key);
      else if (until > now) holders.set(holder, Math.max(until, holders.get(holder) ?? 0));
    }
    this.seen.set(pool, holders);
    for (const key of stale) await caller.call('pool.remove_from_other_config', ref, key);
    const own = `${REPLICA_KEY_PREFIX}${this.self}`;
    if (own in config) await caller.call('pool.remove_from_other_config', ref, own);
    try {
      await caller.call('pool.add_to_other_config', ref, own, new Date(now + this.ttlMs).toISOString());
    } catch (err) {
      // Only we write our own key; a duplicate means a beat raced this one, which is as good.
      if (!(err instanceof XapiError && err.code === 'MAP_DUPLICATE_KEY')) throw err;
    }
  }

  /** Removes our heartbeat from a pool (on shutdown), so the others count us out at once. */
  async leave(caller: XapiCaller): Promise<void> {
    const ref = (await caller.call<string[]>('pool.get_all'))[0];
    if (ref) await caller.call('pool.remove_from_other_config', ref, `${REPLICA_KEY_PREFIX}${this.self}`);
  }
}
