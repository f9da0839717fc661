import { isAbsolute } from 'node:path';
import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import { isSecretRef } from '../secrets/index.js';

/**
 * Git mode only: every SR deviceConfig secretRef whose `file` is relative, as an error at its
 * `file:line:col`, so the commit is rejected with a clear reason instead of failing at apply time.
 * A local folder source is a real folder, so a relative `file` resolves against it exactly as
 * `xops apply DIR` does; a Git source has no working tree (manifests are read from the object
 * store), so there is nothing for a relative path to be relative to: only absolute files (mounted
 * secrets) and environment variables can be read.
 */
export function gitSecretProblems(desired: DesiredState): Diagnostic[] {
  const problems: Diagnostic[] = [];
  for (const sr of desired.srs) {
    const address = `SR/${sr.meta.name}`;
    const doc = desired.documents.find((d) => d.address === address);
    for (const [key, value] of Object.entries(sr.spec.deviceConfig)) {
      if (!isSecretRef(value) || value.secretRef.file === undefined || isAbsolute(value.secretRef.file)) continue;
      const path = `spec.deviceConfig.${key}.secretRef.file`;
      problems.push({
        severity: 'error',
        code: 'secret-relative-file',
        address,
        path,
        location: doc?.locations[path] ?? doc?.locations[`spec.deviceConfig.${key}`] ?? sr.meta.source,
        message:
          `relative secret file '${value.secretRef.file}' cannot be read when xops run follows a Git repository ` +
          '(secrets are never read from Git): use an absolute path to a mounted secret, or secretRef.env',
      });
    }
  }
  return problems;
}
