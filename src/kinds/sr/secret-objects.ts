import type { PBDRecord, Ref } from '../../model/observed.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError } from '../../apply/errors.js';
import { isOwnedBy, ownershipMarks } from '../../apply/ownership.js';
import { isXapiError } from '../../apply/xapi.js';
import { credentialDigestKey } from '../../secrets/changes.js';
import { credentialDigest, digestMatches, type ResolvedConfig } from '../../secrets/index.js';
import { secretKeyFor } from './secret-keys.js';

/**
 * XAPI `secret` objects for an SR's credentials. xops keeps one secret per secret-backed credential,
 * marked with its ownership marks plus CREDENTIAL_KEY, and hands XAPI `<key>_secret: <uuid>` instead
 * of the value; XAPI gives each PBD its own copy (xen-api ocaml/xapi/xapi_secret.ml duplicate_passwds)
 * and destroys the copies with the PBDs. xops' own secret is what new PBDs are made from, so it lives
 * as long as the SR.
 */

/** The secret's other_config key naming the device-config credential it holds (`password`). */
export const CREDENTIAL_KEY = 'xops.credential-key';

interface SecretRecord {
  uuid: string;
  value: string;
  other_config: Record<string, string>;
}

/** The spec path whose digest the SR's other_config records for device-config key `key`. */
function specPath(key: string): string {
  return `spec.deviceConfig.${key}`;
}

/** xops' secrets for the SR at `address`, every one per credential key (more than one only after a resent create). */
async function ownSecrets(ctx: ApplyContext, address: string): Promise<Map<string, [Ref, SecretRecord][]>> {
  const all = await ctx.caller.call<Record<Ref, SecretRecord>>('secret.get_all_records');
  const out = new Map<string, [Ref, SecretRecord][]>();
  for (const [ref, rec] of Object.entries(all)) {
    const key = rec.other_config?.[CREDENTIAL_KEY];
    if (key === undefined || !isOwnedBy(rec.other_config, address, ctx.repo)) continue;
    out.set(key, [...(out.get(key) ?? []), [ref, rec]]);
  }
  return out;
}

/** The credentials of `config` that an SR of `type` reads from a secret: device-config key → the `_secret` key. */
export function secretBackedKeys(type: string, config: ResolvedConfig): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of config.secretKeys) {
    const secretKey = secretKeyFor(type, key);
    if (secretKey) out.set(key, secretKey);
  }
  return out;
}

/**
 * The device config to give XAPI for an SR of `type`: each secret-backed credential replaced by its
 * `_secret` key naming xops' secret, which is created (marked, in the same call) or, when an earlier
 * run made it, given the current value. Twins a resent secret.create left are destroyed.
 */
export async function xapiDeviceConfig(ctx: ApplyContext, address: string, type: string, config: ResolvedConfig): Promise<Record<string, string>> {
  const backed = secretBackedKeys(type, config);
  if (backed.size === 0) return config.values;
  const existing = await ownSecrets(ctx, address);
  const out = { ...config.values };
  for (const [key, secretKey] of backed) {
    const value = config.values[key]!;
    const [first, ...twins] = existing.get(key) ?? [];
    for (const [twin] of twins) await destroySecret(ctx, twin);
    let uuid: string;
    if (first) {
      if (first[1].value !== value) await ctx.caller.call('secret.set_value', first[0], value);
      uuid = first[1].uuid;
    } else {
      const ref = await ctx.caller.call<Ref>('secret.create', { value, other_config: { ...ownershipMarks(ctx, address), [CREDENTIAL_KEY]: key } });
      uuid = await ctx.caller.call<string>('secret.get_uuid', ref);
    }
    delete out[key];
    out[secretKey] = uuid;
  }
  return out;
}

async function destroySecret(ctx: ApplyContext, ref: Ref): Promise<void> {
  try {
    await ctx.caller.call('secret.destroy', ref);
  } catch (err) {
    if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
  }
}

/** Destroys every secret xops made for the SR at `address` (after the SR is gone, or its create failed). */
export async function destroyOwnSecrets(ctx: ApplyContext, address: string): Promise<void> {
  for (const secrets of (await ownSecrets(ctx, address)).values()) for (const [ref] of secrets) await destroySecret(ctx, ref);
}

/**
 * Gives credential `key` its new value everywhere the SR's driver may read it: xops' own secret (future
 * PBDs copy it) and each PBD's copy. The driver reads the secret when it attaches, so an attached PBD
 * keeps its current session until it is next plugged. A PBD naming no secret for the key, or one that
 * no longer exists, cannot be updated in place: that fails the action, saying so.
 */
export async function rotateSecret(ctx: ApplyContext, address: string, type: string, sr: Ref, pbds: readonly [Ref, PBDRecord][], key: string, value: string): Promise<void> {
  const secretKey = secretKeyFor(type, key);
  if (!secretKey) throw new ApplyError(address, `a ${type} SR reads deviceConfig.${key} from its PBDs' device_config, not from a secret: changing it re-creates the PBDs`);
  const own = (await ownSecrets(ctx, address)).get(key)?.[0];
  if (own) {
    if (own[1].value !== value) await ctx.caller.call('secret.set_value', own[0], value);
  } else {
    await ctx.caller.call<Ref>('secret.create', { value, other_config: { ...ownershipMarks(ctx, address), [CREDENTIAL_KEY]: key } });
  }
  for (const [pbd, rec] of pbds) {
    if (rec.SR !== sr) continue;
    const uuid = rec.device_config?.[secretKey];
    if (uuid === undefined) throw new ApplyError(address, `PBD ${rec.uuid} holds deviceConfig.${key} in its device_config, not in a secret: re-create the PBDs to change it`);
    let ref: Ref;
    try {
      ref = await ctx.caller.call<Ref>('secret.get_by_uuid', uuid);
    } catch (err) {
      if (isXapiError(err, 'UUID_INVALID')) throw new ApplyError(address, `PBD ${rec.uuid} names secret ${uuid} for deviceConfig.${key}, which no longer exists: re-create the PBDs`);
      throw err;
    }
    await ctx.caller.call('secret.set_value', ref, value);
  }
}

/**
 * The other_config entries recording a digest of each secret credential in `config` that the pool is
 * known to hold: those in `applied` (this action just set them) get a fresh digest unless the stored one
 * still matches; any other keeps its stored digest, and gets a first one only when every PBD in `pbds`
 * verifiably holds the value (an SR made before xops recorded digests). Never the value.
 */
export async function credentialDigests(
  ctx: ApplyContext,
  type: string,
  config: ResolvedConfig,
  otherConfig: Readonly<Record<string, string>> | undefined,
  applied: ReadonlySet<string> | 'all',
  pbds: readonly [Ref, PBDRecord][] = [],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of config.secretKeys) {
    const digestKey = credentialDigestKey(specPath(key));
    const stored = otherConfig?.[digestKey];
    const value = config.values[key]!;
    if (applied === 'all' || applied.has(key)) {
      out[digestKey] = stored !== undefined && (await digestMatches(value, stored)) === true ? stored : await credentialDigest(value);
    } else if (stored !== undefined) {
      out[digestKey] = stored;
    } else if (pbds.length > 0 && (await everyPbdHolds(ctx, type, pbds, key, value))) {
      out[digestKey] = await credentialDigest(value);
    }
  }
  return out;
}

/** Whether every PBD holds `value` for credential `key`, in its device_config or in the secret it names. */
async function everyPbdHolds(ctx: ApplyContext, type: string, pbds: readonly [Ref, PBDRecord][], key: string, value: string): Promise<boolean> {
  const secretKey = secretKeyFor(type, key);
  for (const [, rec] of pbds) {
    const dc = rec.device_config ?? {};
    if (dc[key] === value) continue;
    const uuid = secretKey !== undefined ? dc[secretKey] : undefined;
    if (uuid === undefined) return false;
    try {
      const ref = await ctx.caller.call<Ref>('secret.get_by_uuid', uuid);
      if ((await ctx.caller.call<string>('secret.get_value', ref)) !== value) return false;
    } catch (err) {
      if (isXapiError(err, 'UUID_INVALID', 'HANDLE_INVALID')) return false;
      throw err;
    }
  }
  return true;
}
