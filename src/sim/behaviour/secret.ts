import type { Handler } from '../core.js';
import type { SimDatabase } from '../database.js';
import { fail } from '../errors.js';

/**
 * The device-config keys an SM driver resolves through a XAPI `secret`, and the key that must be present for the
 * driver to read it at all (SM reads a CIFS password only with a username, a CHAP password only with its user).
 * Sources: xapi-project/sm libs/sm/cifutils.py (getCIFCredentials: `password_secret`, ISOSR's `cifs` prefix) and
 * libs/sm/BaseISCSI.py (load: `chappassword_secret`, `incoming_chappassword_secret`).
 */
const SECRET_KEYS: Record<string, readonly { key: string; needs: string }[]> = {
  smb: [{ key: 'password_secret', needs: 'username' }],
  iso: [{ key: 'cifspassword_secret', needs: 'username' }],
  lvmoiscsi: [
    { key: 'chappassword_secret', needs: 'chapuser' },
    { key: 'incoming_chappassword_secret', needs: 'incoming_chapuser' },
  ],
};

/**
 * The device config a driver of `type` works with: each `*_secret` key it reads replaced by the plain key
 * (`password_secret=<uuid>` becomes `password=<value>`). An unknown secret uuid fails as SM's util.get_secret
 * does: `SR_BACKEND_FAILURE_20 ["", "No such secret. [opterr=Unable to look up secret [<uuid>]]", ""]` (SM's
 * InvalidSecret, code 20 in libs/sm/core/XE_SR_ERRORCODES.xml). The result holds secret values: callers keep it
 * to themselves (never log it, never store it).
 */
export function resolveDeviceConfig(db: SimDatabase, type: string, dc: Readonly<Record<string, string>>): Record<string, string> {
  const out = { ...dc };
  for (const { key, needs } of SECRET_KEYS[type] ?? []) {
    if (!(key in dc) || !(needs in dc)) continue;
    const uuid = String(dc[key]);
    const ref = db.refByUuid('secret', uuid);
    if (!ref) throw fail('SR_BACKEND_FAILURE_20', '', `No such secret. [opterr=Unable to look up secret [${uuid}]]`, '');
    delete out[key];
    out[key.slice(0, -'_secret'.length)] = String(db.record(ref).value);
  }
  return out;
}

/**
 * secret.* beyond the generated accessors (create, get_by_uuid, get/set_value, destroy and get_all_records are the
 * model's implicit messages). `introduce` takes the uuid from the caller, as xen-api ocaml/xapi/xapi_secret.ml does.
 */
export function secretHandlers(): Record<string, Handler> {
  return {
    'secret.introduce': ({ db, args }) => {
      const [uuid, value, otherConfig] = args as [string, string, Record<string, string> | undefined];
      // XAPI's database refuses a second row with the same uuid; the exception surfaces as INTERNAL_ERROR.
      if (db.refByUuid('secret', uuid)) throw fail('INTERNAL_ERROR', `Db_exn.Uniqueness_constraint_violation("secret", "uuid", "${uuid}")`);
      return db.create('secret', { uuid, value, other_config: { ...(otherConfig ?? {}) } });
    },
  };
}

/** Where each message XAPI rewrites carries its device config. */
const DEVICE_CONFIG_ARGS: Record<string, { index: number; field?: string }> = {
  'SR.create': { index: 1 },
  'SR.probe': { index: 1 },
  'PBD.create': { index: 0, field: 'device_config' },
  'PBD.set_device_config': { index: 1 },
};

/** Messages that make PBDs, whose `*password_secret` keys XAPI points at fresh copies of the secrets. */
const MAKES_PBDS = new Set(['SR.create', 'PBD.create']);

type DeviceConfig = Record<string, string>;

/** XAPI's move_passwds_to_secrets: `<key>password=<value>` becomes `<key>password_secret=<uuid of a new secret>`. */
function movePasswords(db: SimDatabase, dc: DeviceConfig): DeviceConfig {
  const out: DeviceConfig = {};
  for (const [k, v] of Object.entries(dc)) {
    if (k.endsWith('password')) out[`${k}_secret`] = newSecret(db, String(v));
    else out[k] = v;
  }
  return out;
}

/**
 * XAPI's duplicate_passwds: every `*password_secret` uuid is replaced by the uuid of a new secret holding the same
 * value. An unknown uuid fails the way XAPI's database lookup does, UUID_INVALID ["secret", uuid], before any driver
 * runs.
 */
function duplicateSecrets(db: SimDatabase, dc: DeviceConfig): DeviceConfig {
  const out: DeviceConfig = { ...dc };
  for (const [k, v] of Object.entries(dc)) {
    if (!k.endsWith('password_secret')) continue;
    const ref = db.refByUuid('secret', String(v));
    if (!ref) throw fail('UUID_INVALID', 'secret', String(v));
    out[k] = newSecret(db, String(db.record(ref).value));
  }
  return out;
}

function newSecret(db: SimDatabase, value: string): string {
  return String(db.record(db.create('secret', { value, other_config: {} })).uuid);
}

/**
 * What XAPI does with secrets around the storage messages, in front of the simulator's storage handlers (wraps the
 * entries of `handlers`). Sources: xen-api ocaml/xapi/xapi_secret.ml, ocaml/xapi/xapi_pbd.ml, ocaml/xapi/xapi_sr.ml
 * and ocaml/xapi/message_forwarding.ml.
 * - Making a PBD (PBD.create, and SR.create for the PBDs it makes) gives it its own copy of every secret its
 *   `*password_secret` keys name (`duplicate_passwds`): PBD.device_config names the copy, never the caller's secret,
 *   which stays the caller's to destroy. SR.create's PBDs all end up naming one copy: XAPI sets every PBD's
 *   device_config to the one the driver returned for the PBD it created the SR through.
 * - PBD.destroy destroys the secrets its device_config names (`clean_out_passwds`), and so do SR.destroy and
 *   SR.forget for each of the SR's PBDs.
 * - With `movePasswords` (opt-in, see SimOptions.movePasswordsToSecrets), plain `*password` keys become secrets
 *   first, in SR.create, SR.probe, PBD.create and PBD.set_device_config (`move_passwds_to_secrets`); the secret is
 *   made even when the call then fails, as in XAPI.
 */
export function secretLayer(handlers: Map<string, Handler>, opts: { movePasswords: boolean }): void {
  const setDeviceConfig: Handler = ({ db, args }) => {
    db.set(db.expect('PBD', args[0]).ref, 'device_config', { ...(args[1] as DeviceConfig) });
  };
  for (const [method, where] of Object.entries(DEVICE_CONFIG_ARGS)) {
    const inner = handlers.get(method) ?? (method === 'PBD.set_device_config' ? setDeviceConfig : undefined);
    if (!inner || (!opts.movePasswords && !MAKES_PBDS.has(method))) continue;
    handlers.set(method, (call) => {
      const args = [...call.args];
      const holder = where.field ? { ...(args[where.index] as Record<string, unknown>) } : undefined;
      let dc = (holder ? holder[where.field!] : args[where.index]) as DeviceConfig | undefined;
      if (dc === null || typeof dc !== 'object') return inner(call);
      if (opts.movePasswords) dc = movePasswords(call.db, dc);
      if (MAKES_PBDS.has(method)) dc = duplicateSecrets(call.db, dc);
      if (holder) {
        holder[where.field!] = dc;
        args[where.index] = holder;
      } else args[where.index] = dc;
      return inner({ ...call, args });
    });
  }
  const destroyPbd = handlers.get('PBD.destroy');
  if (destroyPbd) {
    handlers.set('PBD.destroy', (call) => {
      const dc = { ...((call.db.expect('PBD', call.args[0]).rec.device_config as DeviceConfig) ?? {}) };
      const result = destroyPbd(call);
      cleanOutPasswords(call.db, dc);
      return result;
    });
  }
  // SR.destroy and SR.forget remove the SR's PBDs through Xapi_pbd.destroy (xapi_sr.ml really_forget), so their
  // secrets go too; SR.destroy also cleans out the SR's sm_config (xapi_sr.ml destroy).
  for (const method of ['SR.destroy', 'SR.forget']) {
    const inner = handlers.get(method);
    if (!inner) continue;
    handlers.set(method, (call) => {
      const sr = call.db.expect('SR', call.args[0]).rec;
      const configs = (sr.PBDs as string[]).map((p) => ({ ...((call.db.get(p)?.rec.device_config as DeviceConfig) ?? {}) }));
      if (method === 'SR.destroy') configs.push({ ...((sr.sm_config as DeviceConfig) ?? {}) });
      const result = inner(call);
      for (const dc of configs) cleanOutPasswords(call.db, dc);
      return result;
    });
  }
}

/** XAPI's clean_out_passwds: destroys the secrets a map's `*password_secret` keys name, ignoring unknown ones. */
function cleanOutPasswords(db: SimDatabase, dc: DeviceConfig): void {
  for (const [k, v] of Object.entries(dc)) {
    const ref = k.endsWith('password_secret') ? db.refByUuid('secret', String(v)) : undefined;
    if (ref) db.destroy(ref);
  }
}
