import type { Diagnostic } from '../model/diagnostics.js';
import type { RawDocument } from '../model/desired.js';

/**
 * In a fleet each pool's manifests come from folders the configuration names, so a `Pool` manifest
 * copied into the wrong folder would rename (and reconfigure) another pool. A `Pool` document whose
 * name is not the configured pool's is therefore an error at its `metadata.name` (file and line).
 * Pure; an empty list when the set has no Pool document or only the right one.
 */
export function poolNameDiagnostics(documents: readonly RawDocument[], pool: string): Diagnostic[] {
  return documents
    .filter((d) => d.kind === 'Pool' && d.name !== pool)
    .map((d) => ({
      severity: 'error' as const,
      code: 'pool-name',
      message: `this Pool manifest is named '${d.name}' but is reconciled into the configured pool '${pool}': name it '${pool}' or move it to that pool's paths`,
      location: d.locations['metadata.name'] ?? d.source,
      address: d.address,
      path: 'metadata.name',
    }));
}
