import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted, so equal values always serialise (and digest) the same way whatever
 * order their keys were built in. `undefined` members are dropped, as JSON.stringify does.
 */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // Fast paths for what XAPI records are made of: lists of refs or strings, and string maps.
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) return JSON.stringify(value);
  } else {
    const keys = Object.keys(value).sort();
    const rec = value as Record<string, unknown>;
    if (keys.every((k) => typeof rec[k] === 'string')) {
      let out = '{';
      for (const k of keys) out += (out.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + JSON.stringify(rec[k]);
      return out + '}';
    }
  }
  if (Array.isArray(value)) return `[${value.map((v) => stableStringify(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/** Short content digest (sha256, 16 hex digits): enough to tell versions of one object apart. */
export function digestOf(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}

export function sameValue(a: unknown, b: unknown): boolean {
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
