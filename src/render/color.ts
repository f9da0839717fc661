/**
 * Whether to colour a stream. `FORCE_COLOR` set to anything but `0`/`false` turns colour on even off a
 * terminal (CI logs that render ANSI); `NO_COLOR` set to any value, even empty, turns it off
 * (no-color.org: "when present"), and wins over FORCE_COLOR. Otherwise: colour only on a TTY.
 */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['NO_COLOR'] !== undefined) return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  return Boolean(stream.isTTY);
}
