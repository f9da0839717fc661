import type { SecretRef } from '../model/desired.js';
import { digestMatches } from './digest.js';
import { resolveConfig, type SecretSource } from './index.js';

/**
 * The other_config key (on the object a manifest owns, e.g. the SR) holding the digest of the
 * credential at `path` of its manifest, as xops last applied it. Never the value: see digest.ts.
 */
export function credentialDigestKey(path: string): string {
  return `xops.credential:${path}`;
}

/** How a changed credential is named in a plan's options: `<address>#<path>`, e.g. `SR/nas#spec.deviceConfig.password`. */
export function credentialId(address: string, path: string): string {
  return `${address}#${path}`;
}

/** A secretRef a manifest holds at `path`, as `secretUsesOf` lists them. */
export interface CredentialUse {
  address: string;
  path: string;
  ref: SecretRef['secretRef'];
  /** Set when the key may not hold a secret: such a use is refused elsewhere and never checked here. */
  notCredential?: string;
}

/**
 * The credentials (as credentialId) whose current value differs from the one whose digest the
 * owned object stores. Reads each secret from `source` under its rules; a secret that cannot be read
 * now, an object without a stored digest, or a digest this version cannot read is left out: the plan
 * cannot say it changed, and apply reports an unreadable secret itself. The planner receives the
 * result as plain data and never sees a value.
 */
export async function changedCredentials(
  uses: readonly CredentialUse[],
  storedOf: (address: string) => Readonly<Record<string, string>> | undefined,
  source: SecretSource,
): Promise<Set<string>> {
  const changed = new Set<string>();
  for (const use of uses) {
    if (use.notCredential) continue;
    const stored = storedOf(use.address)?.[credentialDigestKey(use.path)];
    if (stored === undefined) continue;
    let value: string;
    try {
      value = (await resolveConfig(use.address, { v: { secretRef: use.ref } }, source)).values.v!;
    } catch {
      continue;
    }
    if ((await digestMatches(value, stored).catch(() => undefined)) === false) changed.add(credentialId(use.address, use.path));
  }
  return changed;
}
