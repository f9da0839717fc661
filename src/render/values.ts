import { formatBytes } from '../plan/values.js';

/** Paths whose numbers are bytes in manifests, shown as 4 GiB rather than 4294967296. */
const BYTES = /(memory|memoryMax|size)$/;

/** One value as a human reads it in a plan: sizes in binary units, absent as `(none)`. */
export function formatValue(path: string, v: unknown): string {
  if (v === undefined || v === null) return '(none)';
  if (typeof v === 'number' && BYTES.test(path)) return formatBytes(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object' && !Array.isArray(v)) {
    return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}: ${formatValue(k, x)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}
