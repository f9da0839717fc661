import type { DesiredSR } from '../../model/desired.js';
import { isSecretRef } from '../../secrets/index.js';
import type { KindSecretUse } from '../contract.js';

/**
 * The secretRefs in an SR's deviceConfig. Only keys that hold credentials for the SR's type may be
 * secrets: a secretRef on `server` or `path` could only serve to read a host file into the pool.
 */
export function srSecretUses(sr: DesiredSR, credentialKeys: Readonly<Record<string, readonly string[]>>): KindSecretUse[] {
  const allowed = credentialKeys[sr.spec.type] ?? [];
  const uses: KindSecretUse[] = [];
  for (const [key, value] of Object.entries(sr.spec.deviceConfig)) {
    if (!isSecretRef(value)) continue;
    const notCredential = allowed.includes(key)
      ? undefined
      : `deviceConfig.${key} does not hold a credential for a ${sr.spec.type} SR, so it cannot be a secretRef` +
        (allowed.length ? ` (${sr.spec.type}: ${allowed.join(', ')})` : ` (${sr.spec.type} SRs take none)`);
    uses.push({ path: `spec.deviceConfig.${key}`, ref: value.secretRef, ...(notCredential ? { notCredential } : {}) });
  }
  return uses;
}
