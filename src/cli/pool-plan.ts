import type { PoolConfig } from '../config/index.js';
import { liveInventoryFrom } from '../manifests/index.js';
import { loadManifestFiles, sortDiagnostics, type ManifestFile } from '../manifests/loader.js';
import { hasErrors, type Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { defaultConnect } from '../fleet/fleet.js';
import { poolNameDiagnostics } from '../fleet/pool-name.js';
import { takeSnapshot } from '../observe/snapshot.js';
import type { OperatorSettings } from './operator-config.js';
import { planDesired } from './plan-desired.js';

/** What planning one pool of a configuration needs besides its files and live state. */
export interface PoolPlanContext {
  /** The repository folder the pools' paths are relative to, as the operator named it. */
  root: string;
  /** The commit the files are from ('local' for a working folder). */
  commit: string;
  repo?: string;
  operator: OperatorSettings;
  now: Date;
}

/** A pool planned, or the errors that stopped it (nothing may be planned from a broken set). */
export type PoolPlanResult = { ok: true; plan: Plan; desired: DesiredState } | { ok: false; diagnostics: Diagnostic[] };

/**
 * Plans one configured pool from its files (the union of its paths) against its live state: the
 * same load, checks and gated plan as a single-pool command, with the pool's own limits over the
 * configuration's and its `Pool` manifest required to carry its name. Pure.
 */
export function planPoolFiles(pool: PoolConfig, files: ManifestFile[], readDiagnostics: Diagnostic[], observed: ObservedState, ctx: PoolPlanContext): PoolPlanResult {
  const loaded = loadManifestFiles(files, ctx.root, { live: liveInventoryFrom(observed), commit: ctx.commit });
  const diagnostics = sortDiagnostics([...readDiagnostics, ...loaded.diagnostics, ...poolNameDiagnostics(loaded.desired.documents, pool.name)]);
  if (hasErrors(diagnostics)) return { ok: false, diagnostics };
  const operator = { ...ctx.operator, limits: { ...ctx.operator.limits, ...pool.limits } };
  return { ok: true, desired: loaded.desired, plan: planDesired(loaded.desired, diagnostics, observed, { now: ctx.now, repo: ctx.repo, operator }) };
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
