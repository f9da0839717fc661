/** Git error text and URLs made safe to show: credentials in URLs are masked. */

/**
 * Masks the credentials of every URL in `text` before it reaches a log line, an error or /status:
 * `https://user:token@host/repo` → `https://user:***@host/repo`; a user part without a password
 * (`https://token@host/…`, how tokens are often passed) is masked whole. A password may itself hold
 * `@`: the user information runs to the last `@` before the host's path.
 */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/\s]*)@/gi, (_match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
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
