import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted, so equal values always serialise (and digest) the same way whatever
 * order their keys were built in. `undefined` members are dropped, as JSON.stringify does; an
 * `undefined` (or function) item of a list is `null`.
 *
 * The planner digests tens of thousands of records per plan, so this builds one string by
 * concatenation rather than through entries/filter/map arrays. Its output is part of saved plans
 * (digests), so it must never change for a given value.
 */
export function stableStringify(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (Number.isFinite(value)) return String(value);
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += stableStringify(value[i]);
    }
    return out + ']';
  }
  const rec = value as Record<string, unknown>;
  const keys = Object.keys(rec);
  if (keys.length > 1) keys.sort();
  let out = '{';
  for (const k of keys) {
    const v = rec[k];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += quote(k) + ':' + stableStringify(v);
  }
  return out + '}';
}

/** Characters JSON.stringify escapes in a string: quote, backslash, controls, and (lone) surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON.stringify writes it; refs, uuids and names rarely need escaping, and a test is cheaper. */
export function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Short content digest of a serialised value (sha256, 16 hex digits). */
export function digestOfText(text: string): string {
  return hash('sha256', text, 'hex').slice(0, 16);
}

/** Short content digest (sha256, 16 hex digits): enough to tell versions of one object apart. */
export function digestOf(value: unknown): string {
  return digestOfText(stableStringify(value));
}

/** Equal as stableStringify sees it (so `undefined` equals `null`, key order does not matter). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // Two different strings, finite numbers or booleans never serialise the same: skip the strings.
  const ta = typeof a;
  if (ta === typeof b && (ta === 'string' || ta === 'boolean' || (ta === 'number' && Number.isFinite(a) && Number.isFinite(b)))) return false;
  return stableStringify(a) === stableStringify(b);
}

/** Tags are a set in XAPI: order and duplicates carry no meaning. */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

/** Human size for reasons and renderers: 4 GiB, 512 MiB, 1000 B. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (i < units.length - 1 && v >= 1024 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  return `${v} ${units[i]}`;
}
