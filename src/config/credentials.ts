import { KIND_REGISTRY } from '../kinds/index.js';
import type { DesiredState } from '../model/desired.js';
import { MANAGED_KEY, REPO_KEY, repoMatches, type ObservedClass, type ObservedState } from '../model/observed.js';
import { changedCredentials } from '../secrets/changes.js';
import { processSecretSource, type SecretSource } from '../secrets/index.js';
import { secretRules, secretUsesOf } from './checks.js';
import type { ControllerConfig } from './types.js';

/**
 * The declared credentials whose value changed since xops applied them (see secrets/changes.ts), for
 * the planner's `changedCredentials` option: each manifest's secretRefs, read under the operator's
 * rules, checked against the digest its managed object carries in the snapshot. The I/O before a
 * plan: `xops plan`, `xops apply` and the controller call it; without it a plan shows no credential changes.
 */
export async function credentialChanges(
  desired: DesiredState,
  observed: ObservedState,
  config: ControllerConfig,
  source: SecretSource,
  repo?: string,
): Promise<Set<string>> {
  const uses = secretUsesOf(desired, config);
  if (uses.length === 0) return new Set();
  const ownerClass = new Map(KIND_REGISTRY.flatMap((k) => (k.owner ? [[k.kind as string, k.owner.cls as ObservedClass] as const] : [])));
  const stored = new Map<string, Record<string, string>>();
  for (const cls of new Set(uses.map((u) => ownerClass.get(u.address.split('/')[0]!)))) {
    if (!cls) continue;
    for (const rec of observed.records[cls].values()) {
      const oc = (rec as { other_config?: Record<string, string> }).other_config ?? {};
      const address = oc[MANAGED_KEY];
      if (address && repoMatches(oc[REPO_KEY], repo) && !stored.has(address)) stored.set(address, oc);
    }
  }
  return changedCredentials(uses, (a) => stored.get(a), source);
}

/**
 * Where xops reads secretRefs for the operator: the process's environment and files (relative ones
 * under `secrets.dir`), under the configuration's rules, never from xops' own credential files.
 * What a reconcile, the plan API and the CLI all read secrets through.
 */
export function operatorSecretSource(config: ControllerConfig, ownCredentialFiles: readonly (string | undefined)[] = []): SecretSource {
  return { ...processSecretSource(config.secrets.dir), rules: secretRules(config, ownCredentialFiles) };
}
