import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ControllerMetrics } from './metrics.js';
import type { StatusStore } from './status.js';
import { handleWebhook, type WebhookOptions } from './webhook.js';

/** Configuration of the controller's HTTP server. */
export interface HttpServerOptions {
  /** Default 127.0.0.1: the endpoints are unauthenticated, so they stay local unless asked. */
  host?: string;
  /** Default 9420; 0 picks a free port. */
  port?: number;
  status: StatusStore;
  metrics: ControllerMetrics;
  /** The `POST /webhook` route; answered 404 when no secret is configured. */
  webhook?: WebhookOptions;
  /** The body of `GET /history` (JSON); answered 404 when absent. */
  history?: () => unknown;
  /** The `POST /plan` route (`plan-api.ts`, which checks its own token); answered 404 when absent. */
  plan?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Told about requests that failed inside a handler (a bug: answered 500). */
  onError?: (err: unknown) => void;
  /**
   * Why the process is not healthy (e.g. a reconcile stuck past its deadline), or undefined when it
   * is: `/healthz` answers 503 with the reason, so a supervisor restarts it.
   */
  unhealthy?: () => string | undefined;
}

/** A running server: `url` is `http://host:port`. */
export interface ControllerHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 9420 };

/**
 * Serves `/healthz` (the process answers and no reconcile is stuck), `/readyz` (XAPI reachable and source synced, else 503 with
 * why), `/metrics` (Prometheus text), `/status` (JSON) and `POST /webhook`.
 * `/history` (JSON) serves the reconcile history when one is given.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<ControllerHttpServer> {
  const server = createServer((req, res) => {
    route(req, res, options).catch((err: unknown) => {
      options.onError?.(err);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  const host = options.host ?? DEFAULT_LISTEN.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_LISTEN.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  if (path === '/webhook') {
    if (!options.webhook) return send(res, 404, 'application/json', '{"error":"webhook not configured (no secret)"}\n');
    if (method !== 'POST') return send(res, 405, 'text/plain', 'POST only\n', { allow: 'POST' });
    return handleWebhook(req, res, options.webhook);
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
