import type { IncomingMessage, ServerResponse } from 'node:http';
import { PAGE_CSS, PAGE_HTML, PAGE_SCRIPT, loginPage } from './assets.js';
import { carriesToken, sameToken, tokenCookie } from './auth.js';
import { ViewStream } from './events.js';
import type { PageView } from './view.js';

/** Options of the web page's routes. */
export interface WebRoutesOptions {
  /** The view the page shows; called on each request and while event-stream clients are connected. */
  view: () => PageView;
  /**
   * The read-only token `/status` requires, when one is configured: the page and `/events` then
   * require it too (bearer header or the cookie the login form or `?token=` sets).
   */
  token?: string;
  /** How often connected event streams compare the view (default 250 ms). */
  checkIntervalMs?: number;
}

/** The page's routes, mounted into the controller's HTTP server. */
export interface WebRoutes {
  /** Answers the request and returns true when it is one of the page's paths; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Ends the event streams. */
  close(): void;
}

/** Paths the page uses. */
export const WEB_PATHS = { page: '/', script: '/ui/app.js', style: '/ui/app.css', events: '/events', login: '/login' } as const;

const MAX_LOGIN_BODY = 4096;
/** Everything from this origin only: nothing on the page can load or send anything elsewhere. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * `GET /` (the page), `/ui/app.js`, `/ui/app.css` (its assets, public: they hold no data),
 * `GET /events` (server-sent events of the view), `POST /login` and `GET /?token=` (exchange the
 * token for an HttpOnly cookie, then redirect to `/` so the token leaves the address bar).
 */
export function createWebRoutes(options: WebRoutesOptions): WebRoutes {
  const stream = new ViewStream({ view: options.view, checkIntervalMs: options.checkIntervalMs });
  const allowed = (req: IncomingMessage) => options.token === undefined || carriesToken(req, options.token);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://controller');
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    switch (url.pathname) {
      case WEB_PATHS.page: {
        if (!read) return reply(res, 405, 'text/plain', 'GET only\n', { allow: 'GET, HEAD' });
        const offered = url.searchParams.get('token');
        if (offered !== null && options.token !== undefined) return exchange(res, offered, options.token);
        if (!allowed(req)) return reply(res, 401, 'text/html; charset=utf-8', loginPage(false), { 'content-security-policy': CSP });
        return reply(res, 200, 'text/html; charset=utf-8', PAGE_HTML, { 'content-security-policy': CSP });
      }
      case WEB_PATHS.script:
        return read ? reply(res, 200, 'text/javascript; charset=utf-8', PAGE_SCRIPT) : reply(res, 405, 'text/plain', 'GET only\n');
      case WEB_PATHS.style:
        return read ? reply(res, 200, 'text/css; charset=utf-8', PAGE_CSS) : reply(res, 405, 'text/plain', 'GET only\n');
      case WEB_PATHS.events:
        if (method !== 'GET') return reply(res, 405, 'text/plain', 'GET only\n', { allow: 'GET' });
        if (!allowed(req)) return reply(res, 401, 'text/plain', 'token required\n', { 'www-authenticate': 'Bearer' });
        stream.attach(res);
        return true;
      case WEB_PATHS.login: {
        if (method !== 'POST') return reply(res, 405, 'text/plain', 'POST only\n', { allow: 'POST' });
        if (options.token === undefined) return redirect(res);
        const body = await readBody(req, MAX_LOGIN_BODY);
        if (body === undefined) return reply(res, 413, 'text/plain', 'login form too large\n');
        return exchange(res, new URLSearchParams(body).get('token') ?? '', options.token);
      }
      default:
        return false;
    }
  };
  return { handle, close: () => stream.close() };
}

function exchange(res: ServerResponse, offered: string, token: string): true {
  if (!sameToken(offered, token)) return reply(res, 401, 'text/html; charset=utf-8', loginPage(true), { 'content-security-policy': CSP });
  return redirect(res, { 'set-cookie': tokenCookie(token) });
}

function redirect(res: ServerResponse, headers: Record<string, string> = {}): true {
  res.writeHead(303, { location: WEB_PATHS.page, 'cache-control': 'no-store', ...headers });
  res.end();
  return true;
}

function reply(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): true {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
  return true;
}

/** The request body as text, or undefined when it exceeds `max` bytes. */
async function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
