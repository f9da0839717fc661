/**
 * A fast, non-cryptographic 64-bit digest of plain values (JSON-like data), for telling versions of
 * one XAPI object apart in a saved plan (`plan.observed.objects`).
 *
 * Why not sha256: a plan at 10k VMs digests ~60k records, and serialising each one to text and
 * hashing that text cost more than all the rest of planning. This walks the values directly with two
 * 32-bit multiply-xor lanes (the mixing of cyrb53) and builds no strings.
 *
 * The trade-off: a collision means a changed object whose digest did not change, so a saved plan
 * would not be refused as stale. With 64 bits of output the chance for one changed object is about
 * 2^-53 (the lanes are not fully independent), which is negligible for accidental changes; it offers
 * no protection against someone crafting a collision, but whoever can write to the pool could as
 * well change it after the stale check. Digests written to the pool (`xops.spec`) stay sha256.
 *
 * Equal as `stableStringify` sees it means equal digest: object key order does not matter,
 * `undefined` members are dropped, `undefined` list items and non-finite numbers count as `null`.
 */

// The two lanes live in a typed array: module-level numbers outside the small-integer range would
// be boxed on every store, which made this slower than sha256.
const lanes = new Int32Array(2);

const TAG_NULL = 0x10001;
const TAG_FALSE = 0x10002;
const TAG_TRUE = 0x10003;
const TAG_NUMBER = 0x10004;
const TAG_STRING = 0x10005;
const TAG_LIST = 0x10006;
const TAG_OBJECT = 0x10007;
const TAG_FIELD = 0x10008;

function mix(code: number): void {
  lanes[0] = Math.imul(lanes[0]! ^ code, 2654435761);
  lanes[1] = Math.imul(lanes[1]! ^ code, 1597334677);
}

function mixString(text: string): void {
  // The length frames the string, so "ab","c" and "a","bc" differ.
  mix(TAG_STRING);
  mix(text.length);
  let a = lanes[0]!;
  let b = lanes[1]!;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 2654435761);
    b = Math.imul(b ^ c, 1597334677);
  }
  lanes[0] = a;
  lanes[1] = b;
}

function mixNumber(n: number): void {
  if (!Number.isFinite(n)) return mix(TAG_NULL);
  mix(TAG_NUMBER);
  if (Number.isSafeInteger(n)) {
    // Sizes in bytes exceed 32 bits: both halves count.
    mix(n | 0);
    mix(Math.floor(n / 4294967296) | 0);
  } else {
    mixString(String(n));
  }
}

function mixValue(value: unknown): void {
  switch (typeof value) {
    case 'string':
      return mixString(value);
    case 'number':
      return mixNumber(value);
    case 'boolean':
      return mix(value ? TAG_TRUE : TAG_FALSE);
    case 'object':
      if (value === null) return mix(TAG_NULL);
      if (Array.isArray(value)) {
        mix(TAG_LIST);
        mix(value.length);
        for (let i = 0; i < value.length; i++) mixValue(value[i]);
        return;
      }
      return mixObject(value as Record<string, unknown>);
    default:
      // undefined (as a list item), functions, symbols: JSON writes null.
      return mix(TAG_NULL);
  }
}

/**
 * Objects are digested without sorting their keys: each member is digested on fresh lanes and the
 * members' digests are added up, so the order they come in cannot matter.
 */
function mixObject(obj: Record<string, unknown>): void {
  const outer1 = lanes[0]!;
  const outer2 = lanes[1]!;
  let sum1 = 0;
  let sum2 = 0;
  let count = 0;
  for (const key in obj) {
    const v = obj[key];
    // Records are JSON data: plain objects with no inherited enumerable members.
    if (v === undefined) continue;
    lanes[0] = 0x9e3779b9;
    lanes[1] = 0x7f4a7c15;
    mixString(key);
    mixValue(v);
    finish();
    sum1 = (sum1 + lanes[0]!) | 0;
    sum2 = (sum2 + lanes[1]!) | 0;
    count++;
  }
  lanes[0] = outer1;
  lanes[1] = outer2;
  mix(TAG_OBJECT);
  mix(count);
  mix(sum1);
  mix(sum2);
}

function finish(): void {
  let a = lanes[0]!;
  let b = lanes[1]!;
  a = Math.imul(a ^ (a >>> 16), 2246822507);
  a ^= Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507);
  b ^= Math.imul(a ^ (a >>> 13), 3266489909);
  lanes[0] = a;
  lanes[1] = b;
}

function start(): void {
  lanes[0] = 0xdeadbeef;
  lanes[1] = 0x41c6ce57;
}

/** Two hex digits per byte value: Number#toString(16) + padStart cost more than the hashing. */
const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hexOf(x: number): string {
  return HEX_BYTES[(x >>> 24) & 255]! + HEX_BYTES[(x >>> 16) & 255]! + HEX_BYTES[(x >>> 8) & 255]! + HEX_BYTES[x & 255]!;
}

function hex(): string {
  finish();
  return hexOf(lanes[1]!) + hexOf(lanes[0]!);
}

/**
 * Digest (16 hex digits) of the named fields of a record, in the order given: the same as digesting
 * the object made of those fields, absent (`undefined`) ones left out, provided `fields` is always
 * the same list for a class.
 */
export function fastFieldsDigest(record: Readonly<Record<string, unknown>>, fields: readonly string[]): string {
  start();
  for (let i = 0; i < fields.length; i++) {
    const v = record[fields[i]!];
    if (v === undefined) continue;
    mix(TAG_FIELD);
    mix(i);
    mixValue(v);
  }
  return hex();
}

/** Digest (16 hex digits) of a text. */
export function fastTextDigest(text: string): string {
  start();
  mixString(text);
  return hex();
}
