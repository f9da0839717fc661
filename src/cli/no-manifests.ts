import { hasErrors, type Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';

/**
 * A folder that loads without errors but declares nothing is almost always the wrong folder: one
 * warning saying so (`no manifests under DIR`), instead of a quiet "valid: 0 manifests".
 */
export function noManifestsWarning(dir: string, desired: DesiredState, loadDiagnostics: readonly Diagnostic[]): Diagnostic[] {
  if (desired.documents.length > 0 || hasErrors(loadDiagnostics)) return [];
  return [{ severity: 'warning', code: 'no-manifests', message: `no manifests under ${dir} (looked for *.yaml and *.yml files)` }];
}
