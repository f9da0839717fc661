const MINUTE = 60_000;

/** `90000` → `90 s`, `7200000` → `120 min`: for error messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 10 * MINUTE) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / MINUTE)} min`;
}
