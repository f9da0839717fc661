/**
 * Which calls may be repeated when their outcome is unknown (the request may have reached the host but
 * no reply came back): only those that cannot change the pool. Logins are included: a duplicate login
 * only leaves an idle session behind.
 */
export function isReadOnlyMethod(method: string): boolean {
  if (method.startsWith('Async.')) return false;
  return (
    /^[A-Za-z_]+\.get_\w+$/.test(method) ||
    method === 'event.from' ||
    method === 'event.next' ||
    method.startsWith('system.') ||
    method === 'session.login_with_password'
  );
}

/** Error codes with which the host refuses a call without running it: always safe to repeat after a pause. */
export const BUSY_CODES: ReadonlySet<string> = new Set(['TOO_MANY_PENDING_TASKS', 'TOO_BUSY']);

/** Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
