/**
 * Manifests: YAML files → validated, defaulted, reference-resolved desired state, with every problem
 * as a diagnostic (`file:line:col: Kind/name: path: message`).
 */
import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import { readManifestFolder, type FolderRead } from './folder.js';
import { loadManifestFilesYielding, sortDiagnostics, type LoadOptions } from './loader.js';
import { documentsOf, KIND_REGISTRY } from '../kinds/index.js';

export { loadManifestFiles, loadManifestFilesYielding, isManifestPath } from './loader.js';
export type { LoadOptions, ManifestFile, LoadResult } from './loader.js';
export { liveInventoryFrom } from './live.js';
export type { LiveInventory, LiveKind } from './live.js';
export { DEFAULT_LIMITS } from './limits.js';
export type { ManifestLimits } from './limits.js';
export { readManifestFolder } from './folder.js';
export { parseSize, parseDuration } from './units.js';
export { cronProblem } from './cron.js';
export { KINDS } from '../kinds/index.js';

/**
 * Loads every manifest under `dir`. Reads the folder safely (symlinks that leave it are diagnostics,
 * hidden entries skipped, sizes capped), then loads the files as `loadManifestFiles` does.
 * `desired.source.commit` is `opts.commit`, or `local` for a working folder. `preread` is the folder
 * as readManifestFolder(dir, opts.limits) already read it (parse-ahead.ts), so it is not read again.
 */
export async function loadManifests(dir: string, opts: LoadOptions = {}, preread?: FolderRead): Promise<{ desired: DesiredState; diagnostics: Diagnostic[] }> {
  const read = preread ?? (await readManifestFolder(dir, opts.limits));
  const result = await loadManifestFilesYielding(read.files, dir, { ...opts, commit: opts.commit ?? 'local' });
  for (const kind of KIND_REGISTRY) {
    if (kind.measure) for (const doc of documentsOf(result.desired, kind)) await kind.measure(doc, dir);
  }
  return { desired: result.desired, diagnostics: sortDiagnostics([...read.diagnostics, ...result.diagnostics]) };
}
