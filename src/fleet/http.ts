import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ControllerStatus } from '../controller/status.js';
import { PAGE_PATHS, guardRequest, type HttpGuard } from '../controller/http-guard.js';
import { createWebRoutes } from '../controller/web/routes.js';
import { ApproveRefused, handleApprove } from '../controller/approve-api.js';
import { handleWebhook } from '../controller/webhook.js';
import type { FleetPool, RunningFleet } from './fleet.js';

/** One line of `/status` per pool. */
export interface FleetPoolSummary {
  name: string;
  /** This replica holds the pool's lease and reconciles it. */
  held: boolean;
  /** Who does, when another replica does. */
  heldBy?: string;
  connected: boolean;
  connectError?: string;
  commit?: string;
  lastResult?: string;
  consecutiveFailures?: number;
  standby?: string;
}

/** `/status` of a fleet replica. */
export interface FleetStatus {
  holder: string;
  replicas: string[];
  share: number;
  pools: FleetPoolSummary[];
}

/** The fleet's status document (pure: read from the pools' stores). */
export function fleetStatus(fleet: RunningFleet): FleetStatus {
  return { holder: fleet.holder, replicas: fleet.roster.live(), share: fleet.share(), pools: fleet.pools.map(summary) };
}

function summary(pool: FleetPool): FleetPoolSummary {
  const s: ControllerStatus | undefined = pool.controller?.status.snapshot();
  return {
    name: pool.config.name,
    held: pool.held(),
    ...(s?.lease?.heldBy ? { heldBy: s.lease.heldBy } : {}),
    connected: pool.controller !== undefined,
    ...(pool.connectError ? { connectError: pool.connectError } : {}),
    ...(s?.commit ? { commit: s.commit } : {}),
    ...(s?.lastReconcile ? { lastResult: s.lastReconcile.result } : {}),
    ...(s ? { consecutiveFailures: s.consecutiveFailures } : {}),
    ...(s?.standby ? { standby: s.standby } : {}),
  };
}

/**
 * Every pool's metrics in one exposition, each sample labelled `pool="<name>"`, plus the fleet's own
 * gauges (live replicas, this replica's share and the pools it holds).
 */
export function fleetMetrics(fleet: RunningFleet): string {
  const blocks = new Map<string, { head: string[]; samples: string[] }>();
  for (const pool of fleet.pools) {
    if (!pool.controller) continue;
    let current: { head: string[]; samples: string[] } | undefined;
    for (const line of pool.controller.metrics.registry.render().split('\n')) {
      if (line === '') continue;
      const help = /^# HELP (\S+)/.exec(line);
      if (help) {
        current = blocks.get(help[1]!);
        if (!current) blocks.set(help[1]!, (current = { head: [line], samples: [] }));
        else current.head = current.head.length ? current.head : [line];
        continue;
      }
      if (line.startsWith('#')) {
        if (current && current.head.length < 2) current.head.push(line);
        continue;
      }
      current?.samples.push(withPoolLabel(line, pool.config.name));
    }
  }
  const out: string[] = [];
  for (const block of blocks.values()) out.push(...block.head, ...block.samples);
  const gauge = (name: string, help: string, value: number) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  gauge('xops_fleet_replicas', 'Replicas of this fleet seen alive (this one included).', fleet.roster.live().length);
  gauge('xops_fleet_share', 'How many pools this replica may hold.', fleet.share());
  gauge('xops_fleet_pools_held', 'Pools whose lease this replica holds.', fleet.pools.filter((p) => p.held()).length);
  return out.join('\n') + '\n';
}

/** `name{a="b"} 1` → `name{pool="p",a="b"} 1`; `name 1` → `name{pool="p"} 1`. */
export function withPoolLabel(sample: string, pool: string): string {
  const label = `pool="${pool.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return sample.replace(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{\}?)?/, (_m, name: string, brace: string | undefined) =>
    brace === '{' ? `${name}{${label},` : `${name}{${label}}`,
  );
}

/** A fleet replica's HTTP server. */
export interface FleetHttpServer {
  url: string;
  /** The separate webhook listener's address, when there is one. */
  webhookUrl?: string;
  close(): Promise<void>;
}

/**
 * Serves `/healthz` (no pool's reconcile stuck past `stuckAfterMs`), `/readyz` (every pool this
 * replica holds is ready; a replica standing by for all its pools is ready), `/metrics`, `/status`
 * (all pools), `/status/<pool>` (one pool's full status, 404 for a name not configured), `/history`
 * (every connected pool's reconcile history by name), `/history/<pool>`, the status page (`/`, one
 * section per connected pool), `/plan/<pool>` (that pool's
 * plan API, with http.tokenFile) and, with a secret, `POST /webhook` (a verified push makes every
 * pool fetch). With `guard`, requests are checked as a
 * single controller's are: the Host header always, the bearer token off /healthz, /readyz, /webhook.
 */
export async function startFleetHttp(
  fleet: RunningFleet,
  options: {
    host?: string;
    port?: number;
    stuckAfterMs: number;
    webhook?: { secret: string; branch?: string };
    guard?: HttpGuard;
    /** Serve `POST /webhook` only there (e.g. where the forge can reach), and not on the main address. */
    webhookListen?: { host: string; port: number };
    /** Enables `POST /approve` (`xops approve HASH --pool NAME`) behind this token (approvals.tokenFile). */
    approveToken?: string;
  },
): Promise<FleetHttpServer> {
  // One verified push asks every pool's loop to fetch: the repository is shared, each loop decides.
  const webhook = (req: IncomingMessage, res: ServerResponse) => {
    if (!options.webhook) return send(res, 404, 'application/json', '{"error":"webhook not configured (no secret)"}\n');
    void handleWebhook(req, res, { ...options.webhook, onPush: () => fleet.pools.forEach((p) => p.controller?.loop.request('webhook')) });
  };
  const pathOf = (req: IncomingMessage) => (req.url ?? '/').split('?')[0]!;
  const isWebhook = (req: IncomingMessage) => req.method === 'POST' && pathOf(req) === '/webhook';
  // The status page, one section per pool this replica is connected to (held or standing by).
  const web = createWebRoutes({
    ...(options.guard?.token !== undefined ? { token: options.guard.token } : {}),
    view: () => ({ pools: fleet.pools.flatMap((p) => (p.controller ? [p.controller.pageView(p.config.name)] : [])) }),
  });
  const main = await listen(options.host ?? '127.0.0.1', options.port ?? 9420, (req, res) => {
    const path = pathOf(req);
    // As a single controller: the Host check everywhere, the bearer token off the probes and the webhook.
    const refusal = guardRequest(req, path, options.guard ?? {});
    if (refusal) return send(res, refusal.status, 'text/plain', `${refusal.reason}\n`, refusal.headers);
    if (PAGE_PATHS.has(path)) {
      void web.handle(req, res).catch(() => (res.headersSent ? res.destroy() : send(res, 500, 'text/plain', 'internal error\n')));
      return;
    }
    if (isWebhook(req)) return options.webhookListen ? send(res, 404, 'text/plain', 'not found: POST /webhook is served on its own address\n') : webhook(req, res);
    if (path === '/approve') {
      if (!options.approveToken) return send(res, 404, 'text/plain', 'not found: no approvals.tokenFile configured\n');
      void handleApprove(req, res, { token: options.approveToken, onApprove: (hash, pool) => approveInPool(fleet, hash, pool) }).catch(() => res.headersSent ? res.destroy() : send(res, 500, 'text/plain', 'internal error\n'));
      return;
    }
    const plan = /^\/plan(?:\/([^/]+))?$/.exec(path);
    if (plan) {
      let name: string | undefined;
      try {
        name = plan[1] === undefined ? undefined : decodeURIComponent(plan[1]);
      } catch {
        return send(res, 400, 'application/json', '{"error":"the pool name in the path is not valid percent-encoding"}\n');
      }
      return planInPool(fleet, name, req, res);
    }
    handle(fleet, options.stuckAfterMs, req, res);
  });
  let hook: Listening | undefined;
  if (options.webhookListen) {
    // Only the HMAC-signed webhook there: nothing else is reachable from where the forge connects.
    hook = await listen(options.webhookListen.host, options.webhookListen.port, (req, res) => (isWebhook(req) ? webhook(req, res) : send(res, 404, 'text/plain', 'not found\n'))).catch(async (err: unknown) => {
      await main.close();
      throw err;
    });
  }
  return {
    url: main.url,
    ...(hook ? { webhookUrl: hook.url } : {}),
    close: async () => {
      web.close();
      await Promise.all([main.close(), hook?.close()]);
    },
  };
}

/**
 * An approval given through the API to one pool of the fleet: recorded in that pool's ledger only (the
 * same change in another pool is not approved by it), then that pool reconciles.
 */
async function approveInPool(fleet: RunningFleet, hash: string, name: string | undefined): Promise<void> {
  const names = fleet.pools.map((p) => p.config.name).join(', ');
  if (name === undefined) throw new ApproveRefused(400, `this replica serves several pools: name the pool (xops approve ${hash} --pool NAME; pools: ${names})`);
  const pool = fleet.pools.find((p) => p.config.name === name);
  if (!pool) throw new ApproveRefused(404, `no pool named '${name}' in the configuration (pools: ${names})`);
  if (!pool.controller || !pool.approvalLedger) throw new ApproveRefused(503, `pool ${name} is not connected here yet: ${pool.connectError ?? 'connecting'}`);
  // Only the holder's ledger counts: recorded elsewhere, the approval would wait for a handover.
  if (!pool.held()) throw new ApproveRefused(503, `pool ${name} is reconciled by ${pool.controller.status.snapshot().lease?.heldBy ?? 'another replica'}, not this one: send the approval to that replica`);
  pool.approvalLedger.approve(hash);
  await pool.approvalLedger.save();
  pool.controller.loop.request('resync');
}

/**
 * `/plan/<pool>`: that pool's plan API (plan-api.ts), planning against its controller's cache with
 * its limits. Refusals are JSON, as the plan API's own: 400 without a pool name when several are
 * served, 404 for a name not configured (or no http.tokenFile), 503 while the pool is not connected.
 */
function planInPool(fleet: RunningFleet, name: string | undefined, req: IncomingMessage, res: ServerResponse): void {
  const json = (code: number, error: string) => send(res, code, 'application/json', JSON.stringify({ error }) + '\n');
  const names = fleet.pools.map((p) => p.config.name).join(', ');
  const pool = name === undefined ? (fleet.pools.length === 1 ? fleet.pools[0] : undefined) : fleet.pools.find((p) => p.config.name === name);
  if (name === undefined && !pool) return json(400, `this replica serves several pools: name the pool (--pool NAME; pools: ${names})`);
  if (!pool) return json(404, `no pool named '${name}' in the configuration (pools: ${names})`);
  if (!pool.controller) return json(503, `pool ${pool.config.name} is not connected here yet: ${pool.connectError ?? 'connecting'}`);
  if (!pool.controller.plan) return json(404, 'plan API not configured (no http.tokenFile)');
  void pool.controller.plan(req, res).catch(() => (res.headersSent ? res.destroy() : json(500, 'internal error')));
}

interface Listening {
  url: string;
  close(): Promise<void>;
}

async function listen(host: string, port: number, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
  const server = createServer((req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      send(res, 500, 'text/plain', `internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { address, port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${bound}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

function handle(fleet: RunningFleet, stuckAfterMs: number, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/healthz') {
    const stuck = fleet.pools.flatMap((p) => {
      const ms = p.controller?.loop.runningForMs();
      return ms !== undefined && ms > stuckAfterMs ? [`${p.config.name}: a reconcile has been running for ${Math.round(ms / 1000)} s`] : [];
    });
    return send(res, stuck.length ? 503 : 200, 'text/plain', stuck.length ? stuck.map((s) => `unhealthy: ${s}`).join('\n') + '\n' : 'ok\n');
  }
  if (path === '/readyz') {
    const reasons = fleet.pools.flatMap((p) => (p.held() && p.controller ? p.controller.status.readiness().reasons.map((r) => `${p.config.name}: ${r}`) : []));
    return send(res, reasons.length ? 503 : 200, 'text/plain', reasons.length ? reasons.map((r) => `not ready: ${r}`).join('\n') + '\n' : 'ready\n');
  }
  if (path === '/metrics') return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', fleetMetrics(fleet));
  if (path === '/status') return send(res, 200, 'application/json', JSON.stringify(fleetStatus(fleet), null, 2) + '\n');
  if (path === '/history') {
    const pools = Object.fromEntries(fleet.pools.flatMap((p) => (p.controller ? [[p.config.name, p.controller.outputs.history.document()]] : [])));
    return send(res, 200, 'application/json', JSON.stringify({ pools }, null, 2) + '\n');
  }
  const history = /^\/history\/([^/]+)$/.exec(path);
  if (history) {
    const name = decodeURIComponent(history[1]!);
    const pool = fleet.pools.find((p) => p.config.name === name);
    if (!pool) return send(res, 404, 'text/plain', `no pool named '${name}' in the configuration\n`);
    if (!pool.controller) return send(res, 503, 'text/plain', `pool ${name} is not connected: ${pool.connectError ?? 'connecting'}\n`);
    return send(res, 200, 'application/json', JSON.stringify(pool.controller.outputs.history.document(), null, 2) + '\n');
  }
  const one = /^\/status\/([^/]+)$/.exec(path);
  if (one) {
    const name = decodeURIComponent(one[1]!);
    const pool = fleet.pools.find((p) => p.config.name === name);
    if (!pool) return send(res, 404, 'text/plain', `no pool named '${name}' in the configuration\n`);
    const body = pool.controller ? { ...pool.controller.status.snapshot(), name } : { name, connected: false, connectError: pool.connectError };
    return send(res, 200, 'application/json', JSON.stringify(body, null, 2) + '\n');
  }
  send(res, 404, 'text/plain', 'not found\n');
}

function send(res: ServerResponse, code: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
