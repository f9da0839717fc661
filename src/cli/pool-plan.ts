import type { PoolConfig } from '../config/index.js';
import { liveInventoryFrom } from '../manifests/index.js';
import { loadManifestFilesYielding, sortDiagnostics, type ManifestFile } from '../manifests/loader.js';
import { hasErrors, type Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { defaultConnect } from '../fleet/fleet.js';
import { poolNameDiagnostics } from '../fleet/pool-name.js';
import { takeSnapshot } from '../observe/snapshot.js';
import type { OperatorSettings } from './operator-config.js';
import { cliCredentialChanges, planDesired } from './plan-desired.js';

/** What planning one pool of a configuration needs besides its files and live state. */
export interface PoolPlanContext {
  /** The repository folder the pools' paths are relative to, as the operator named it. */
  root: string;
  /** The commit the files are from ('local' for a working folder). */
  commit: string;
  repo?: string;
  operator: OperatorSettings;
  now: Date;
  /** SRs whose declared credentials differ from what xops applied (see credentialChanges). */
  changedCredentials?: ReadonlySet<string>;
}

/** A pool planned, or the errors that stopped it (nothing may be planned from a broken set). */
export type PoolPlanResult = { ok: true; plan: Plan; desired: DesiredState } | { ok: false; diagnostics: Diagnostic[] };

/**
 * Plans one configured pool from its files (the union of its paths) against its live state: the
 * same load, checks and gated plan as a single-pool command, with the pool's own limits over the
 * configuration's and its `Pool` manifest required to carry its name. No I/O (it lets the event
 * loop run while it plans).
 */
export async function planPoolFiles(pool: PoolConfig, files: ManifestFile[], readDiagnostics: Diagnostic[], observed: ObservedState, ctx: PoolPlanContext): Promise<PoolPlanResult> {
  const loaded = await loadManifestFilesYielding(files, ctx.root, { live: liveInventoryFrom(observed), commit: ctx.commit, limits: ctx.operator.config.repository });
  const diagnostics = sortDiagnostics([...readDiagnostics, ...loaded.diagnostics, ...poolNameDiagnostics(loaded.desired.documents, pool.name)]);
  if (hasErrors(diagnostics)) return { ok: false, diagnostics };
  const operator = { ...ctx.operator, limits: { ...ctx.operator.limits, ...pool.limits } };
  const plan = await planDesired(loaded.desired, diagnostics, observed, { now: ctx.now, repo: ctx.repo, operator, ...(ctx.changedCredentials ? { changedCredentials: ctx.changedCredentials } : {}) });
  return { ok: true, desired: loaded.desired, plan };
}

/**
 * planPoolFiles, with the declared SR credentials read (the operator's secrets, the pool's own
 * password file refused) and compared with what xops applied, as `xops plan` and `apply` do for one
 * pool: a rotated password is planned, not left for the controller to find.
 */
export async function planPoolWithCredentials(pool: PoolConfig, files: ManifestFile[], readDiagnostics: Diagnostic[], observed: ObservedState, ctx: PoolPlanContext): Promise<PoolPlanResult> {
  const first = await planPoolFiles(pool, files, readDiagnostics, observed, ctx);
  if (!first.ok) return first;
  const changed = await cliCredentialChanges(first.desired, observed, ctx.operator, pool.passwordFile, ctx.repo);
  // Rare: only then is the pool planned again, with the changes.
  return changed.size === 0 ? first : await planPoolFiles(pool, files, readDiagnostics, observed, { ...ctx, changedCredentials: changed });
}

/** What one configured pool has now: log in, take one snapshot, log out (also when the snapshot fails). */
export async function observePool(pool: PoolConfig): Promise<ObservedState> {
  const { client } = await defaultConnect(pool);
  try {
    return await takeSnapshot(client);
  } finally {
    await client.close();
  }
}

/** The one line (`xops: pool NAME: message`) saying why one pool could not be worked on. */
export function poolFailure(pool: PoolConfig, err: unknown): string {
  return `xops: pool ${pool.name}: ${err instanceof Error ? err.message : String(err)}\n`;
}
