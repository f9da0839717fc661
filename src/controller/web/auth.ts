import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Name of the cookie that carries the read-only token for the page and its event stream. */
export const TOKEN_COOKIE = 'xops_token';

/**
 * Whether a request carries `token`: as `Authorization: Bearer <token>` (scripts, curl) or in the
 * TOKEN_COOKIE cookie (the browser: EventSource cannot send headers). Compared in constant time.
 */
export function carriesToken(req: IncomingMessage, token: string): boolean {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth) && sameToken(auth.replace(/^bearer\s+/i, '').trim(), token)) return true;
  const cookie = cookieValue(req.headers.cookie, TOKEN_COOKIE);
  return cookie !== undefined && sameToken(cookie, token);
}

/** Constant-time comparison of two tokens of any length (both are hashed first). */
export function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The `Set-Cookie` value that hands the token to the browser: not readable by scripts, sent only to this origin. */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${12 * 3600}`;
}

/** One cookie's value from a `Cookie` header, or undefined. Bounded: headers are capped by Node (16 KiB). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
