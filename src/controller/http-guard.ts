import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** What the controller's HTTP endpoints check before any route runs. */
export interface HttpGuard {
  /**
   * The bearer token every route but the open ones requires (`Authorization: Bearer TOKEN`);
   * undefined: no token is asked for (the default listen address is loopback-only).
   */
  token?: string;
  /** Host names, besides IP literals and localhost names, that a request's Host header may carry. */
  allowedHosts?: readonly string[];
}

/** Routes open without the read token: probes, the HMAC-signed webhook, and /approve (its own token). */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/webhook', '/approve']);

/**
 * The status page's routes check the same token themselves (bearer header, or the HttpOnly cookie its
 * login form sets: a browser cannot send a bearer header), so the guard lets them through to do so.
 */
export const PAGE_PATHS: ReadonlySet<string> = new Set(['/', '/login', '/events', '/ui/app.js', '/ui/app.css']);

/** Why a request is refused: the HTTP status and a one-line reason, safe to send back. */
export interface GuardRefusal {
  status: 400 | 401 | 421;
  reason: string;
  headers?: Record<string, string>;
}

const LOCAL_NAMES = new Set(['localhost', 'localhost.', 'ip6-localhost', 'ip6-loopback']);

/**
 * Whether the request may proceed: undefined when it may, else why not. The Host header is checked
 * on every route (a page in a browser that re-points its own name at this address — DNS rebinding —
 * still sends its own name, which is not allowed); IP literals and localhost names always pass, as
 * no rebinding can produce them. Then, off the open paths, the bearer token when one is set.
 */
export function guardRequest(req: Pick<IncomingMessage, 'headers'>, path: string, guard: HttpGuard): GuardRefusal | undefined {
  const host = hostName(req.headers.host);
  if (host === undefined) return { status: 400, reason: 'missing or malformed Host header' };
  if (!hostAllowed(host, guard.allowedHosts ?? [])) {
    return { status: 421, reason: `Host '${host}' is not one this controller answers to (add it to http.allowedHosts)` };
  }
  if (guard.token === undefined || OPEN_PATHS.has(path) || PAGE_PATHS.has(path)) return undefined;
  const given = bearerOf(req.headers.authorization);
  if (given === undefined || !sameSecret(given, guard.token)) {
    return { status: 401, reason: 'a bearer token is required (Authorization: Bearer TOKEN)', headers: { 'www-authenticate': 'Bearer realm="xops"' } };
  }
  return undefined;
}

/** The name part of a Host header (`name`, `name:port`, `[v6]:port`), lower-cased; undefined when malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (!header || header.length > 255) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::\d{1,5})?$/.exec(header.trim());
  if (!m) return undefined;
  return (m[1] ?? m[2]).toLowerCase();
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  if (isIP(host) !== 0 || LOCAL_NAMES.has(host) || host.endsWith('.localhost')) return true;
  return allowed.some((name) => name.toLowerCase().replace(/\.$/, '') === host.replace(/\.$/, ''));
}

/** The token of an `Authorization: Bearer TOKEN` header, or undefined. */
export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer[ ]+(\S{1,4096})\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** Constant-time comparison: digests first, so neither the length nor a prefix leaks through timing. */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
