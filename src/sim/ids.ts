import { randomBytes, randomUUID } from 'node:crypto';

/** XAPI's null reference, the value of every unset ref field. */
export const NULL_REF = 'OpaqueRef:NULL';

/** The epoch as XAPI writes it; used for "never". */
export const EPOCH = '19700101T00:00:00Z';

export function newUuid(): string {
  return randomUUID();
}

export function newRef(): string {
  return `OpaqueRef:${randomUUID()}`;
}

/** XAPI's datetime form: ISO 8601 without dashes, `YYYYMMDDTHH:MM:SSZ`. */
export function xapiDate(d: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}Z`
  );
}

/**
 * A locally administered unicast MAC, as XAPI generates for VIFs. When `seed` is given the result is
 * deterministic so seeds produce the same pool every run.
 */
export function newMac(seed?: number): string {
  const b = seed === undefined ? randomBytes(5) : Buffer.from([(seed >>> 24) & 0xff, (seed >>> 16) & 0xff, (seed >>> 8) & 0xff, seed & 0xff, 0x5e]);
  return ['02', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}
