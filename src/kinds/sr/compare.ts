import type { ConfigValue } from '../../model/desired.js';
import type { FieldChange } from '../../model/plan.js';
import { compareField } from '../../plan/changes.js';

function isSecret(v: ConfigValue): boolean {
  return typeof v === 'object' && v !== null && 'secretRef' in v;
}

/**
 * Compares the declared device_config keys with the PBD's. Secret values are never known at plan time
 * (they stay secretRef in plans), so a key holding a secret is only checked for presence; keys the
 * SM driver adds on its own are not compared.
 */
export function compareDeviceConfig(
  changes: FieldChange[],
  observed: Record<string, string> | undefined,
  desired: Record<string, ConfigValue>,
  reason: string,
): void {
  for (const [key, value] of Object.entries(desired)) {
    const path = `spec.deviceConfig.${key}`;
    if (isSecret(value)) {
      if (observed && !(key in observed)) changes.push({ path, from: undefined, to: '(secret)', disruption: 'downtime', reason });
      continue;
    }
    compareField(changes, path, observed?.[key], value, 'downtime', reason);
  }
}
