import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ControllerMetrics } from './metrics.js';
import type { StatusStore } from './status.js';
import type { WebRoutes } from './web/routes.js';
import { handleWebhook, type WebhookOptions } from './webhook.js';
import { guardRequest, type HttpGuard } from './http-guard.js';
import { handleApprove, type ApproveApiOptions } from './approve-api.js';

/** Configuration of the controller's HTTP server. */
export interface HttpServerOptions {
  /** Default 127.0.0.1: without a token (guard.token) the read endpoints are open, so they stay local unless asked. */
  host?: string;
  /** Default 9420; 0 picks a free port. */
  port?: number;
  status: StatusStore;
  metrics: ControllerMetrics;
  /** The `POST /webhook` route; answered 404 when no secret is configured. */
  webhook?: WebhookOptions;
  /** The body of `GET /history` (JSON); answered 404 when absent. */
  history?: () => unknown;
  /** The web page and its event stream (`/`, `/ui/*`, `/events`, `/login`); 404 when absent. */
  web?: WebRoutes;
  /** The `POST /plan` route (`plan-api.ts`, which checks its own token); answered 404 when absent. */
  plan?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Told about requests that failed inside a handler (a bug: answered 500). */
  onError?: (err: unknown) => void;
  /**
   * Why the process is not healthy (e.g. a reconcile stuck past its deadline), or undefined when it
   * is: `/healthz` answers 503 with the reason, so a supervisor restarts it.
   */
  unhealthy?: () => string | undefined;
  /** The bearer token and the extra Host names every request is checked against (http-guard.ts). */
  guard?: HttpGuard;
  /**
   * When set, `POST /webhook` is served only there (e.g. a public address a forge can reach), and the
   * main listener, which keeps /status and /metrics, answers 404 for it.
   */
  webhookListen?: { host: string; port: number };
  /** `POST /approve` (xops approve); answered 404 when no approvals.tokenFile is configured. */
  approve?: ApproveApiOptions;
}

/** A running server: `url` is `http://host:port`; `webhookUrl` the separate webhook listener's, when there is one. */
export interface ControllerHttpServer {
  url: string;
  port: number;
  webhookUrl?: string;
  close(): Promise<void>;
}

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 9420 };

/**
 * Serves `/healthz` (the process answers and no reconcile is stuck), `/readyz` (XAPI reachable and source synced, else 503 with
 * why), `/metrics` (Prometheus text), `/status` (JSON) and `POST /webhook`.
 * `/history` (JSON) serves the reconcile history when one is given.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<ControllerHttpServer> {
  const main = await listen(options.host ?? DEFAULT_LISTEN.host, options.port ?? DEFAULT_LISTEN.port, (req, res) =>
    guarded(req, res, options, () => route(req, res, options)), options.onError,
  );
  let hook: Listening | undefined;
  if (options.webhookListen) {
    try {
      // Only the HMAC-signed webhook here: nothing else is reachable from where the forge connects.
      hook = await listen(options.webhookListen.host, options.webhookListen.port, (req, res) => webhookOnly(req, res, options), options.onError);
    } catch (err) {
      await main.close();
      throw err;
    }
  }
  return {
    url: main.url,
    port: main.port,
    ...(hook ? { webhookUrl: hook.url } : {}),
    close: async () => {
      await Promise.all([main.close(), hook?.close()]);
    },
  };
}

interface Listening {
  url: string;
  port: number;
  close(): Promise<void>;
}

async function listen(
  host: string,
  port: number,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  onError: ((err: unknown) => void) | undefined,
): Promise<Listening> {
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      onError?.(err);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
/** Runs `next` only when the request passes the Host check and, off the open paths, carries the token. */
async function guarded(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions, next: () => Promise<void>): Promise<void> {
  const refusal = guardRequest(req, pathOf(req), options.guard ?? {});
  if (refusal) return send(res, refusal.status, 'text/plain', `${refusal.reason}\n`, refusal.headers);
  return next();
}

async function webhookOnly(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions): Promise<void> {
  if (pathOf(req) !== '/webhook' || !options.webhook) return send(res, 404, 'text/plain', 'not found\n');
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST only\n', { allow: 'POST' });
  return handleWebhook(req, res, options.webhook);
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0];
}

async function route(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions): Promise<void> {
  const path = pathOf(req);
  const method = req.method ?? 'GET';
  if (options.web && (await options.web.handle(req, res))) return;
  if (path === '/webhook') {
    if (options.webhookListen) return send(res, 404, 'text/plain', 'the webhook listens on its own address (http.webhookListen)\n');
    if (!options.webhook) return send(res, 404, 'application/json', '{"error":"webhook not configured (no secret)"}\n');
    if (method !== 'POST') return send(res, 405, 'text/plain', 'POST only\n', { allow: 'POST' });
    return handleWebhook(req, res, options.webhook);
  }
  if (path === '/approve') {
    if (!options.approve) return send(res, 404, 'text/plain', 'approvals API not configured (approvals.tokenFile)\n');
    return handleApprove(req, res, options.approve);
  }
  if (path === '/plan') return options.plan ? options.plan(req, res) : send(res, 404, 'application/json', '{"error":"plan API not configured (no http.tokenFile)"}\n');
  if (method !== 'GET' && method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n', { allow: 'GET, HEAD' });
  switch (path) {
    case '/healthz': {
      const problem = options.unhealthy?.();
      return problem ? send(res, 503, 'text/plain', `unhealthy: ${problem}\n`) : send(res, 200, 'text/plain', 'ok\n');
    }
    case '/readyz': {
      const { ready, reasons } = options.status.readiness();
      return send(res, ready ? 200 : 503, 'text/plain', ready ? 'ready\n' : reasons.map((r) => `not ready: ${r}`).join('\n') + '\n');
    }
    case '/metrics':
      return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', options.metrics.registry.render());
    case '/status':
      return send(res, 200, 'application/json', JSON.stringify(options.status.snapshot(), null, 2) + '\n');
    case '/history':
      if (!options.history) return send(res, 404, 'text/plain', 'not found\n');
      return send(res, 200, 'application/json', JSON.stringify(options.history(), null, 2) + '\n');
    default:
      return send(res, 404, 'text/plain', 'not found\n');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
