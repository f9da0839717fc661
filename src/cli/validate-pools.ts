import type { PoolConfig } from '../config/index.js';
import { operatorChecks } from '../config/checks.js';
import { poolFilesIn } from '../fleet/per-pool.js';
import { poolNameDiagnostics } from '../fleet/pool-name.js';
import { liveInventoryFrom, type LiveInventory } from '../manifests/index.js';
import { loadManifestFiles, sortDiagnostics } from '../manifests/loader.js';
import { hasErrors, type Diagnostic } from '../model/diagnostics.js';
import { observePool } from './pool-plan.js';
import { checkAdmission } from '../policy/index.js';
import { printDiagnostics } from './diagnostics-output.js';
import { uncheckedReferenceWarnings } from './offline-references.js';
import type { OperatorSettings } from './operator-config.js';

/**
 * `xops validate --config FILE [--pool NAME...] [REPO]`: checks each pool's manifests (the union of
 * its paths), against its live pool unless `offline`. Prints one section per pool (JSON: an array);
 * exit 1 when any pool has an error or cannot be reached.
 */
export async function validatePools(pools: PoolConfig[], o: { repoDir: string; out: 'text' | 'json'; offline: boolean; operator: OperatorSettings }): Promise<number> {
  const results: { pool: string; ok: boolean; error?: string; diagnostics: Diagnostic[] }[] = [];
  const filesOf = poolFilesIn(o.repoDir, o.operator.config.repository);
  for (const pool of pools) {
    try {
      let live: LiveInventory | undefined;
      if (!o.offline) {
        live = liveInventoryFrom(await observePool(pool));
      }
      const read = await filesOf(pool);
      const loaded = loadManifestFiles(read.files, o.repoDir, { ...(live ? { live } : {}), commit: 'local', limits: o.operator.config.repository });
      const diagnostics = sortDiagnostics([
        ...read.diagnostics,
        ...loaded.diagnostics,
        ...poolNameDiagnostics(loaded.desired.documents, pool.name),
        ...checkAdmission(loaded.desired),
        ...operatorChecks(loaded.desired, o.operator.config, pool.passwordFile ? [pool.passwordFile] : []),
        ...(live ? [] : uncheckedReferenceWarnings(loaded.desired)),
      ]);
      results.push({ pool: pool.name, ok: !hasErrors(diagnostics), diagnostics });
    } catch (err) {
      results.push({ pool: pool.name, ok: false, error: err instanceof Error ? err.message : String(err), diagnostics: [] });
    }
  }
  if (o.out === 'json') process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  else {
    for (const r of results) {
      process.stdout.write(`== pool ${r.pool} ==\n`);
      printDiagnostics(r.diagnostics);
      const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
      process.stdout.write(r.error ? `error: ${r.error}\n` : `${r.ok ? 'valid' : 'invalid'}: ${errors} error(s), ${r.diagnostics.length - errors} warning(s)${o.offline ? ' (offline)' : ''}\n`);
    }
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
