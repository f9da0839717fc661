import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SimCore } from './core.js';
import { JsonRequestError, jsonFailure, jsonSuccess, parseJsonRequest, toJson } from './codec/jsonrpc.js';
import { XmlParseError, parseMethodCall, xmlBare, xmlFailure, xmlSuccess } from './codec/xmlrpc.js';
import type { Dispatcher, Outcome } from './dispatcher.js';
import { serveVdiContent } from './vdi-content/handlers.js';
import { isReadOnlyMethod, matches, type FaultSpec } from './faults.js';
import { parseTlsIdentity, type TlsIdentity } from './tls.js';
import { act, beforeCall, sendFaultyReply } from './wire-faults.js';
import { guestControl } from './guest-control.js';

const CORS = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'X-Requested-With' };

/** What the control endpoint (`/_sim/...`) may do besides faults and stats. */
export interface ControlHooks {
  failover(hostIndex: number): void;
  /** Replaces the served certificate (HTTPS simulators only; throws otherwise). */
  setCertificate?(identity: TlsIdentity): void;
}

/**
 * One HTTP listener per simulated host. XML-RPC on POST to any path but /jsonrpc, JSON-RPC on /jsonrpc, and the
 * simulator's own control endpoint under /_sim/ (never a XAPI path).
 */
export function createListener(core: SimCore, dispatcher: Dispatcher, hostIndex: number, control: ControlHooks, tls?: TlsIdentity): http.Server {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // A silent dark host never answers, disk content included.
    if (core.faults.darkMode(hostIndex) === 'silent' && !(req.url ?? '').startsWith('/_sim/')) return core.faults.held.hold(req.socket, hostIndex);
    // Disk content (PUT /import_raw_vdi, GET /export_raw_vdi) streams its body: routed before it is buffered here.
    if (serveVdiContent(core, req, res)) return;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      handle(core, dispatcher, hostIndex, control, req, res, body).catch((e: unknown) => {
        console.error('xops sim: request failed', e);
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error');
      });
    });
  };
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, onRequest) : http.createServer(onRequest);
  server.keepAliveTimeout = 65_000;
  return server;
}

async function handle(
  core: SimCore,
  dispatcher: Dispatcher,
  hostIndex: number,
  control: ControlHooks,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: string,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path.startsWith('/_sim/')) return controlEndpoint(core, control, req.method ?? 'GET', path, body, res);
  // A silent dark host reads requests and never answers; the control endpoint above stays reachable.
  if (core.faults.darkMode(hostIndex) === 'silent') return core.faults.held.hold(req.socket, hostIndex);
  if (req.method === 'OPTIONS') {
    res.writeHead(200, { ...CORS, 'Access-Control-Allow-Methods': 'POST, OPTIONS', 'Content-Length': '0' });
    res.end();
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  const json = path === '/jsonrpc';
  let method: string;
  let params: unknown[];
  let jsonReq: ReturnType<typeof parseJsonRequest> | undefined;
  try {
    if (json) {
      jsonReq = parseJsonRequest(body);
      ({ method, params } = jsonReq);
    } else {
      ({ method, params } = parseMethodCall(body));
    }
  } catch (e) {
    if (!(e instanceof XmlParseError || e instanceof JsonRequestError)) throw e;
    // XAPI answers unparseable bodies with HTTP 500 and an HTML page, not with an API error.
    const page = `<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; ${escapeHtml(e.message)}</body></html>`;
    res.writeHead(500, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(page) });
    res.end(page);
    return;
  }

  if (core.faults.freeze.frozen) return holdUntilThawed(core, req);
  const fault = beforeCall(core.faults, method, hostIndex);
  if (fault.now) return act(core.faults, fault.now, req, hostIndex);
  const outcome = await dispatcher.call(method, params, { hostIndex });
  if (core.faults.freeze.afterCall((aim) => !isReadOnlyMethod(method) && matches(aim, method))) return holdUntilThawed(core, req);
  if (fault.after) return act(core.faults, fault.after, req, hostIndex);
  // One conversion to bytes: large replies are ropes of cached fragments, and measuring then writing the string
  // would flatten and encode it twice.
  const payload = Buffer.from(json ? encodeJson(jsonReq!, method, outcome) : encodeXml(core, outcome), 'utf8');
  const headers = { ...CORS, 'Content-Type': json ? 'application/json' : 'text/xml', 'Content-Length': String(payload.length) };
  if (sendFaultyReply(core.faults, method, hostIndex, req, res, headers, payload)) return;
  res.writeHead(200, headers);
  res.end(payload);
}

/** A request the freezeAfter fault holds: unanswered until the fault lifts, then its connection is cut. */
async function holdUntilThawed(core: SimCore, req: http.IncomingMessage): Promise<void> {
  await core.faults.freeze.thawed();
  req.socket.destroy();
}

function encodeXml(core: SimCore, o: Outcome): string {
  if (!o.ok) return xmlFailure(o.error);
  const v = core.xml.value(o.type, o.value);
  return o.bare ? xmlBare(v) : xmlSuccess(v);
}

function encodeJson(req: ReturnType<typeof parseJsonRequest>, method: string, o: Outcome): string {
  return o.ok ? jsonSuccess(req, toJson(o.value)) : jsonFailure(req, o.error, method);
}

function escapeHtml(s: string): string {
  return s.replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value, null, 2) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The control endpoint:
 * - `GET /_sim/faults` pending faults; `POST /_sim/faults` (FaultSpec JSON) adds; `DELETE /_sim/faults` clears;
 * - `POST /_sim/failover` `{"host": index}` moves the pool master;
 * - `POST /_sim/tls` `{"cert": PEM, "key": PEM}` switches the served certificate (HTTPS simulators);
 * - `GET /_sim/stats` call counts; `POST /_sim/stats/reset` zeroes them;
 * - `/_sim/guests...` guests and their agents (see guest-control.ts);
 * - `GET /_sim/clock` the pool's time; `POST /_sim/clock` `{"advanceSeconds": n}` moves it on (runs due schedules).
 */
async function controlEndpoint(core: SimCore, control: ControlHooks, method: string, path: string, body: string, res: http.ServerResponse): Promise<void> {
  let input: Record<string, unknown> = {};
  if (body.trim() !== '') {
    try {
      input = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, { error: 'body must be JSON' });
    }
  }
  try {
    if (path === '/_sim/faults' && method === 'GET') return sendJson(res, 200, core.faults.state());
    if (path === '/_sim/faults' && method === 'POST') {
      core.faults.inject(input as FaultSpec);
      // A host taken dark or back answers (or refuses) as asked by the time the caller reads this reply.
      await core.faults.settled();
      return sendJson(res, 200, core.faults.state());
    }
    if (path === '/_sim/faults' && method === 'DELETE') {
      core.faults.clear();
      await core.faults.settled();
      return sendJson(res, 200, core.faults.state());
    }
    if (path === '/_sim/failover' && method === 'POST') {
      control.failover(Number(input.host));
      return sendJson(res, 200, { master: core.db.record(core.poolRef()).master });
    }
    if (path === '/_sim/tls' && method === 'POST') {
      if (!control.setCertificate) return sendJson(res, 409, { error: 'tls: this simulator serves plain HTTP' });
      control.setCertificate(parseTlsIdentity(input));
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/_sim/stats' && method === 'GET') return sendJson(res, 200, { total: core.stats.total, calls: core.stats.get() });
    if (path === '/_sim/stats/reset' && method === 'POST') {
      core.stats.reset();
      return sendJson(res, 200, { total: 0, calls: {} });
    }
    if (path === '/_sim/clock' && method === 'GET') return sendJson(res, 200, { now: core.clock.now().toISOString() });
    if (path === '/_sim/clock' && method === 'POST') {
      const seconds = input.advanceSeconds;
      if (typeof seconds !== 'number') throw new Error('"advanceSeconds" must be a number of seconds');
      return sendJson(res, 200, { now: core.clock.advance(seconds * 1000).toISOString() });
    }
    const guests = guestControl(core, method, path, input);
    if (guests) return sendJson(res, guests.status, guests.body);
  } catch (e) {
    return sendJson(res, 400, { error: e instanceof Error ? e.message : String(e) });
  }
  sendJson(res, 404, { error: `unknown control path ${method} ${path}` });
}

/** Listens on host:port and resolves with the port actually bound. */
export function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting and drops open connections (keep-alive and parked event.from calls included). */
export function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
