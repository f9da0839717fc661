/** HTTPS for the simulator: the certificate it serves, chosen at start and replaceable while it runs. */

/** A PEM certificate (chain) and its private key. */
export interface TlsIdentity {
  readonly cert: string;
  readonly key: string;
}

const MAX_PEM = 256 * 1024;

/** Checks a `{cert, key}` object from the control endpoint; throws an Error naming the bad field. */
export function parseTlsIdentity(input: unknown): TlsIdentity {
  if (input === null || typeof input !== 'object') throw new Error('tls: body must be an object {cert, key}');
  const o = input as Record<string, unknown>;
  for (const k of ['cert', 'key'] as const) {
    const v = o[k];
    if (typeof v !== 'string' || !v.includes('-----BEGIN') || v.length > MAX_PEM) {
      throw new Error(`tls: '${k}' must be a PEM string of at most ${MAX_PEM} characters`);
    }
  }
  return { cert: o.cert as string, key: o.key as string };
}
