/**
 * Sizes and durations as operators write them. Binary units (KiB, MiB, GiB, TiB, PiB; also Ki, Mi...)
 * are powers of 1024; decimal units (KB, MB, GB, TB, PB; also K, M, G...) are powers of 1000, as in
 * Kubernetes quantities and disk vendors' labels. A plain number is bytes (or seconds).
 */
const SIZE = /^([0-9]+(?:\.[0-9]+)?)\s*(B|[kKMGTP]i?B?)?$/;
const POWERS: Record<string, number> = { k: 1, K: 1, M: 2, G: 3, T: 4, P: 5 };

export type Parsed = { ok: true; value: number } | { ok: false; message: string };

export function parseSize(input: number | string): Parsed {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0 ? { ok: true, value: input } : { ok: false, message: 'must be a whole number of bytes' };
  }
  const m = SIZE.exec(input.trim());
  if (!m) return { ok: false, message: `'${input}' is not a size (write e.g. 512MiB, 20GiB or a number of bytes)` };
  const [, number, unit = 'B'] = m;
  let multiplier = 1;
  if (unit !== 'B') {
    const base = unit.includes('i') ? 1024 : 1000;
    multiplier = base ** POWERS[unit[0]];
  }
  const [whole, fraction = ''] = number.split('.');
  if (fraction === '') {
    const bytes = Number(whole) * multiplier;
    if (Number.isSafeInteger(bytes)) return { ok: true, value: bytes };
    return { ok: false, message: `'${input}' is too large` };
  }
  // Multiply as exact decimal: 1.5TiB must be 1649267441664, not a float approximation of it.
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole + fraction) * BigInt(multiplier);
  if (scaled % scale !== 0n) return { ok: false, message: `'${input}' is not a whole number of bytes` };
  const bytes = scaled / scale;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, message: `'${input}' is too large` };
  return { ok: true, value: Number(bytes) };
}

const DURATION_PART = /([0-9]+)([smhd])/g;
const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(input: number | string): Parsed {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0 ? { ok: true, value: input } : { ok: false, message: 'must be a whole number of seconds' };
  }
  if (!/^([0-9]+[smhd])+$/.test(input)) return { ok: false, message: `'${input}' is not a duration (write e.g. 90s, 15m, 2h, 1h30m)` };
  let total = 0;
  for (const [, n, unit] of input.matchAll(DURATION_PART)) total += Number(n) * SECONDS[unit];
  return { ok: true, value: total };
}
