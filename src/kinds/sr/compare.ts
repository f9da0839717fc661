import type { ConfigValue } from '../../model/desired.js';
import type { FieldChange } from '../../model/plan.js';
import { compareField } from '../../plan/changes.js';

/** Whether a declared device-config value is a secretRef. */
export function isSecret(v: ConfigValue): boolean {
  return typeof v === 'object' && v !== null && 'secretRef' in v;
}

/**
 * Compares the declared device_config keys with the PBD's. Secret values are never known at plan time
 * (they stay secretRef in plans), so a key holding a secret is only checked for presence, as itself or
 * as the `_secret` key naming a XAPI secret (`secretKeyOf`); whether its value changed is the
 * planner's `changedCredentials`. Keys the SM driver adds on its own are not compared.
 */
export function compareDeviceConfig(
  changes: FieldChange[],
  observed: Record<string, string> | undefined,
  desired: Record<string, ConfigValue>,
  reason: string,
  secretKeyOf: (key: string) => string | undefined = () => undefined,
): void {
  for (const [key, value] of Object.entries(desired)) {
    const path = `spec.deviceConfig.${key}`;
    if (isSecret(value)) {
      const secretKey = secretKeyOf(key);
      if (observed && !(key in observed) && !(secretKey !== undefined && secretKey in observed)) {
        changes.push({ path, from: undefined, to: '(secret)', disruption: 'downtime', reason });
      }
      continue;
    }
    compareField(changes, path, observed?.[key], value, 'downtime', reason);
  }
}
