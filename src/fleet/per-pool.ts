import type { RepositoryLimits } from '../source/limits.js';
import type { ControllerConfig, PoolConfig } from '../config/index.js';
import type { Diagnostic } from '../model/diagnostics.js';
import type { Action, Plan } from '../model/plan.js';
import { readManifestFolder, type FolderRead } from '../manifests/folder.js';
import type { ManifestFile } from '../manifests/loader.js';
import { selectFiles } from './pool-source.js';

/** Flag every per-pool command takes: `--pool NAME`, repeatable. */
export const poolSelectionOptions = { pool: { type: 'string', multiple: true } } as const;

export const POOL_SELECTION_USAGE = `  --pool NAME           with a configuration that lists pools: only this pool (repeatable);
                        default: every pool, one section each`;

/**
 * The pools a command works on: the configuration's, narrowed by `--pool`. Empty when the
 * configuration lists no pools (the command then works on one pool from its flags). Throws an
 * Error naming the unknown pool and the known ones.
 */
export function selectPools(config: ControllerConfig, names: unknown): PoolConfig[] {
  const wanted = Array.isArray(names) ? (names as string[]) : [];
  if (config.pools.length === 0) {
    if (wanted.length) throw new Error(`--pool ${wanted[0]}: the configuration lists no pools (pools:)${config.file ? ` in ${config.file}` : ''}`);
    return [];
  }
  for (const name of wanted) {
    if (!config.pools.some((p) => p.name === name)) throw new Error(`--pool ${name}: no such pool in ${config.file ?? 'the configuration'} (pools: ${config.pools.map((p) => p.name).join(', ')})`);
  }
  return wanted.length ? config.pools.filter((p) => wanted.includes(p.name)) : config.pools;
}

/** A pool's manifests: the union of its `paths` in the repository, with the folder's problems. */
export type PoolFiles = (pool: PoolConfig) => Promise<{ files: ManifestFile[]; diagnostics: Diagnostic[] }>;

/**
 * Each pool's manifests from one read of the repository folder (a command working on every pool
 * reads it once, not once per pool). A read that fails is tried again for the next pool.
 */
export function poolFilesIn(repoDir: string, limits: Partial<RepositoryLimits> = {}): PoolFiles {
  let folder: Promise<FolderRead> | undefined;
  return async (pool) => {
    folder ??= readManifestFolder(repoDir, limits);
    const read = await folder.catch((err: unknown) => {
      folder = undefined;
      throw err;
    });
    return { files: selectFiles(read.files, pool.paths.map((p) => (p === '' ? '' : `${p}/`))), diagnostics: read.diagnostics };
  };
}

/**
 * The fleet summary that leads a Markdown comment: per pool, how many actions at each disruption.
 * `counted` narrows what is counted (`xops diff`: only the actions the change introduces).
 */
export function fleetPlanTable(plans: { pool: string; plan: Plan }[], counted: (a: Action) => boolean = () => true): string {
  const levels = ['none', 'reboot', 'downtime', 'destructive'] as const;
  const rows = plans.map(({ pool, plan }) => {
    const actions = plan.actions.filter(counted);
    const count = (d: string) => actions.filter((a) => a.disruption === d).length;
    return `| ${pool} | ${actions.length} | ${levels.map((d) => count(d)).join(' | ')} |`;
  });
  return ['| pool | changes | none | reboot | downtime | destructive |', '|---|---:|---:|---:|---:|---:|', ...rows].join('\n') + '\n';
}
