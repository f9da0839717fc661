/**
 * Credential keys whose SM driver also reads them from a XAPI `secret`, per SR type: credential key →
 * the device-config key that names the secret by uuid. Sources (xapi-project/sm): libs/sm/drivers/SMBSR.py
 * mounts with cifutils.getCIFCredentials (libs/sm/cifutils.py: `password_secret`, or with ISOSR's `cifs`
 * prefix `cifspassword_secret`, libs/sm/drivers/ISOSR.py), and libs/sm/BaseISCSI.py `load` (the base of
 * the lvmoiscsi driver) reads `chappassword_secret` and `incoming_chappassword_secret`. Every other
 * credential goes into PBD.device_config as it is.
 */
const SECRET_BACKED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  smb: { password: 'password_secret' },
  iso: { cifspassword: 'cifspassword_secret' },
  lvmoiscsi: { chappassword: 'chappassword_secret', incoming_chappassword: 'incoming_chappassword_secret' },
};

/** The device-config key naming the XAPI secret that holds credential `key` of an SR of `type`; undefined if the driver reads none. */
export function secretKeyFor(type: string, key: string): string | undefined {
  return Object.hasOwn(SECRET_BACKED, type) ? SECRET_BACKED[type]![key] : undefined;
}

/** The credential key whose value the device-config key `deviceKey` names as a XAPI secret (`password_secret` → `password`); undefined for any other key. */
export function credentialKeyFor(type: string, deviceKey: string): string | undefined {
  if (!Object.hasOwn(SECRET_BACKED, type)) return undefined;
  return Object.entries(SECRET_BACKED[type]!).find(([, secretKey]) => secretKey === deviceKey)?.[0];
}
