import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LEASE_KEY, LeaseKeeper, PoolLease } from '../controller/lease.js';
import type { XapiCaller } from '../xapi/caller.js';
import { UserError } from './errors.js';

/** The pool lease as `xops apply` holds it: released when the apply is done, or lost. */
export interface ApplyLease {
  holder: string;
  /** Aborted when the lease is lost mid-apply (another writer took it): start no further action. */
  signal: AbortSignal;
  release(): Promise<void>;
}

export interface ApplyLeaseOptions {
  /**
   * This apply's holder identity; default a fresh one. The CLI passes one kept in the user's cache
   * folder, so that an apply re-run after a crash (kill -9) takes its predecessor's lease back at
   * once instead of waiting for it to expire.
   */
  holder?: string;
  /** Take the lease even though another holder has it (--force-lease). */
  force?: boolean;
  ttlMs?: number;
  /** Told, in one line, that a lease was taken by force. */
  warn?: (line: string) => void;
}

/**
 * Takes the pool's lease — the one the controllers share — for the length of a CLI apply, as
 * Terraform locks its state: a CLI apply and a controller (or two CLI applies) never write to one
 * pool at once. Refuses, saying who holds it since when, unless `force`; a forced take-over is
 * dangerous (the other writer keeps working until its next renewal notices) and says so.
 */
export async function holdApplyLease(caller: XapiCaller, options: ApplyLeaseOptions = {}): Promise<ApplyLease> {
  const holder = options.holder ?? `xops-apply:${hostname().replace(/[^A-Za-z0-9.-]/g, '-')}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const fresh = () => new PoolLease({ caller, holder, ttlMs: options.ttlMs ?? 60_000 });
  let lease = fresh();
  let state = await lease.acquire();
  if (!state.held && options.force) {
    options.warn?.(`--force-lease: taking the pool lease from ${state.heldBy ?? 'its holder'}; it may still be writing to the pool`);
    const [pool] = await caller.call<string[]>('pool.get_all');
    await caller.call('pool.remove_from_other_config', pool, LEASE_KEY);
    // A new lease object: the one that saw the holder would wait out a renewal gap we made ourselves.
    lease = fresh();
    state = await lease.acquire();
  }
  if (!state.held) {
    const who = state.heldBy ?? 'another instance';
    const since = state.since ? ` since ${state.since}` : '';
    const until = state.expiresAt ? ` (lease renewed until ${state.expiresAt})` : '';
    throw new UserError(
      `the pool is locked by ${who}${since}${until}: a controller or another 'xops apply' is changing it; ` +
        `stop it or wait, or pass --force-lease (dangerous: two writers at once)`,
    );
  }
  const lost = new AbortController();
  const keeper = new LeaseKeeper(lease, {
    onUpdate: (s) => {
      if (s && !s.held) lost.abort(new Error(`pool lease lost: ${s.reason}`));
    },
  });
  await keeper.start();
  return { holder, signal: lost.signal, release: () => keeper.stop() };
}
