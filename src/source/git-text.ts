/** Git error text and URLs made safe to show: credentials in URLs are masked. */

/** Strips credentials embedded in a URL (`https://user:token@host/…`) before it reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

/** The line of a git failure worth showing (its `fatal:` line, else the first), credentials masked. */
export function gitMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return redactUrl(lines.find((l) => /^fatal:/.test(l)) ?? lines[0] ?? 'unknown error');
}
