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
