import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Digests of credential values, so that xops can tell a changed secret from an unchanged one without
 * storing the value anywhere. A digest is `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (salt and hash in
 * base64url): scrypt is memory-hard (32 MiB and tens of milliseconds per guess at the default cost) and
 * every digest has its own random salt, so someone who can read the pool's other_config cannot use a
 * precomputed table and pays that cost for every guess of every digest. See docs/security.md.
 */

/** log2 of scrypt's N, r and p for new digests; a stored digest carries its own. */
const COST = { log2N: 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Refuse stored parameters above these: a digest read from the pool is untrusted input. */
const MAX_LOG2N = 20;
const MAX_R = 16;
const MAX_P = 4;
/** Values longer than this are not credentials; bounded so a hostile secret file cannot stall the digest. */
const MAX_VALUE_BYTES = 64 * 1024;

function scrypt(value: string, salt: Buffer, log2N: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** log2N, r, p, maxmem: 256 * 2 ** log2N * r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(value, salt, HASH_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Verified (stored digest, value) pairs: a controller plans the same pool again and again, and each
 * check costs a full scrypt. Bounded; the oldest entry goes first. Keyed by digest and value: the value
 * stays in this process's memory only, as the resolved secret already does.
 */
const verified = new Map<string, boolean>();
const MAX_VERIFIED = 512;

function remember(key: string, outcome: boolean): boolean {
  if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value!);
  verified.set(key, outcome);
  return outcome;
}

function checkValue(value: string): void {
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) throw new Error(`a credential longer than ${MAX_VALUE_BYTES} bytes cannot be digested`);
}

/** A fresh digest of `value` (new random salt each time: two digests of one value differ). */
export async function credentialDigest(value: string): Promise<string> {
  checkValue(value);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(value, salt, COST.log2N, COST.r, COST.p);
  const digest = ['scrypt', COST.log2N, COST.r, COST.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
  remember(`${digest}\0${value}`, true);
  return digest;
}

/**
 * Whether `value` is the one `digest` was made from; undefined when `digest` is not one this module
 * writes (malformed, or parameters out of bounds), so callers can tell "changed" from "cannot say".
 */
export async function digestMatches(value: string, digest: string): Promise<boolean | undefined> {
  const key = `${digest}\0${value}`;
  const known = verified.get(key);
  if (known !== undefined) return known;
  const m = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d)\$([A-Za-z0-9_-]{16,64})\$([A-Za-z0-9_-]{32,64})$/.exec(digest);
  if (!m) return undefined;
  const [log2N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (log2N < 10 || log2N > MAX_LOG2N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return undefined;
  const expected = Buffer.from(m[5]!, 'base64url');
  if (expected.length !== HASH_BYTES) return undefined;
  checkValue(value);
  const actual = await scrypt(value, Buffer.from(m[4]!, 'base64url'), log2N, r, p);
  return remember(key, timingSafeEqual(actual, expected));
}
