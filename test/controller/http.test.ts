import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type ControllerHttpServer } from '../../src/controller/http.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { StatusStore } from '../../src/controller/status.js';
import { signWebhookBody, type WebhookDelivery } from '../../src/controller/webhook.js';

const SECRET = 'hook-secret';
const servers: ControllerHttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(opts: { webhook?: boolean; branch?: string; maxBytes?: number } = {}) {
  const status = new StatusStore('git https://example.invalid/repo.git @ main');
  const metrics = new ControllerMetrics();
  const pushes: WebhookDelivery[] = [];
  const server = await startHttpServer({
    port: 0,
    status,
    metrics,
    webhook: opts.webhook === false ? undefined : { secret: SECRET, branch: opts.branch, maxBytes: opts.maxBytes, onPush: (d) => pushes.push(d) },
  });
  servers.push(server);
  return { server, status, metrics, pushes };
}

/** A raw HTTP request, so tests control headers and body exactly as a Git host would send them. */
function call(url: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString(), type: res.headers['content-type'] }));
    });
    // The server may answer 413 and close before a large body is fully written.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(body);
  });
}

function push(ref = 'refs/heads/main') {
  return JSON.stringify({ ref, after: 'a'.repeat(40) });
}

describe('controller HTTP server', () => {
  it('answers /healthz while the process runs, and /readyz only once XAPI is reachable, the source synced and a commit in force', async () => {
    const { server, status } = await serve();
    expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
    const notReady = await call(server.url, 'GET', '/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.text).toContain('xapi not reachable');
    expect(notReady.text).toContain('source not synced yet');
    status.xapiReachable(true);
    status.sourceSynced('c1', new Date());
    // Synced but nothing in force yet (a first commit that is invalid stays here): not ready.
    const noCommit = await call(server.url, 'GET', '/readyz');
    expect(noCommit.status).toBe(503);
    expect(noCommit.text).toBe('not ready: no commit applied yet\n');
    const summary = { trigger: ['startup' as const], startedAt: 'x', finishedAt: 'y', durationMs: 5, actions: { planned: 0, applied: 0, failed: 0, held: 0 } };
    status.reconciled({ ...summary, commit: 'c1', result: 'invalid' }, { ok: false, invalid: [] }, new Date());
    expect((await call(server.url, 'GET', '/readyz')).text).toBe('not ready: no commit in force: c1 is invalid (see /status .rejected)\n');
    status.sourceSynced('c2', new Date());
    status.reconciled({ ...summary, commit: 'c2', result: 'success' }, { ok: true, resources: [] }, new Date());
    expect((await call(server.url, 'GET', '/readyz')).status).toBe(200);
    status.sourceFailed('fetch main failed: unreachable', new Date());
    expect((await call(server.url, 'GET', '/readyz')).text).toContain('source sync failing');
  });

  it('serves /status as JSON with the commit in force, the last reconcile and held actions', async () => {
    const { server, status } = await serve();
    status.sourceSynced('c1', new Date());
    status.reconciled(
      { trigger: ['startup'], commit: 'c1', startedAt: 'x', finishedAt: 'y', durationMs: 5, result: 'success', actions: { planned: 1, applied: 0, failed: 0, held: 1 } },
      { ok: true, held: [{ id: 'power:VM/a', address: 'VM/a', disruption: 'downtime', policy: 'Policy/p', reason: 'needs approval' }], resources: ['VM/a'] },
      new Date(),
    );
    const res = await call(server.url, 'GET', '/status');
    expect(res.type).toBe('application/json');
    const body = JSON.parse(res.text);
    expect(body.commit).toBe('c1');
    expect(body.lastReconcile.result).toBe('success');
    expect(body.held[0]).toMatchObject({ address: 'VM/a', reason: 'needs approval' });
    expect(body.resources).toEqual([{ address: 'VM/a', state: 'held', reason: 'Policy/p: needs approval' }]);
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const { server, metrics } = await serve();
    metrics.reconciles.inc({ result: 'success' });
    metrics.xapiLatency.observe(0.02, { method: 'VM.get_all_records' });
    const res = await call(server.url, 'GET', '/metrics');
    expect(res.type).toMatch(/^text\/plain; version=0.0.4/);
    expect(res.text).toContain('# TYPE xops_reconciles_total counter\nxops_reconciles_total{result="success"} 1\n');
    expect(res.text).toContain('xops_xapi_call_duration_seconds_bucket{le="0.025",method="VM.get_all_records"} 1');
    expect(res.text).toContain('xops_xapi_call_duration_seconds_bucket{le="0.01",method="VM.get_all_records"} 0');
    expect(res.text).toContain('xops_xapi_call_duration_seconds_count{method="VM.get_all_records"} 1');
  });

  // Each case is a delivery a Git host (or an attacker) might send, and what must happen.
  const deliveries: { why: string; body: string | Buffer; sign?: string; headers?: Record<string, string>; status: number; triggers: boolean }[] = [
    { why: 'a correctly signed push to the followed branch triggers a fetch', body: push(), status: 202, triggers: true },
    { why: 'an unsigned delivery is refused', body: push(), sign: '', status: 401, triggers: false },
    { why: 'a delivery signed with another secret is refused', body: push(), sign: signWebhookBody('wrong', push()), status: 401, triggers: false },
    { why: 'a signature over different bytes is refused (body tampered)', body: push('refs/heads/evil'), sign: signWebhookBody(SECRET, push()), status: 401, triggers: false },
    { why: 'a malformed signature header is refused, not crashed on', body: push(), sign: 'sha256=zz', status: 401, triggers: false },
    { why: 'a push to another branch is acknowledged but does not trigger', body: push('refs/heads/feature'), status: 200, triggers: false },
    { why: 'a ping is acknowledged but does not trigger', body: '{"zen":"hi"}', headers: { 'x-github-event': 'ping' }, status: 200, triggers: false },
    { why: 'a signed body that is not JSON is a bad request', body: 'not json', status: 400, triggers: false },
  ];
  it.each(deliveries)('webhook: $why', async (d) => {
    const { server, pushes } = await serve({ branch: 'main' });
    const signature = d.sign ?? signWebhookBody(SECRET, d.body);
    const res = await call(server.url, 'POST', '/webhook', d.body, { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}), ...d.headers });
    expect(res.status).toBe(d.status);
    expect(pushes.length).toBe(d.triggers ? 1 : 0);
  });

  it('webhook: refuses an oversized payload with 413 without verifying or buffering it', async () => {
    const { server, pushes } = await serve({ maxBytes: 1024 });
    const big = Buffer.alloc(64 * 1024, 'x');
    const declared = await call(server.url, 'POST', '/webhook', big, { 'x-hub-signature-256': signWebhookBody(SECRET, big) });
    expect(declared.status).toBe(413);
    // Chunked (no Content-Length): the cap applies while reading.
    const chunked = await call(server.url, 'POST', '/webhook', big, { 'transfer-encoding': 'chunked', 'x-hub-signature-256': signWebhookBody(SECRET, big) });
    expect(chunked.status).toBe(413);
    expect(pushes).toHaveLength(0);
  });

  it('webhook: answers 404 when no secret is configured, rather than accepting unsigned triggers', async () => {
    const { server } = await serve({ webhook: false });
    expect((await call(server.url, 'POST', '/webhook', push())).status).toBe(404);
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    const { server } = await serve();
    expect((await call(server.url, 'GET', '/nope')).status).toBe(404);
    expect((await call(server.url, 'POST', '/status', '{}')).status).toBe(405);
    expect((await call(server.url, 'GET', '/webhook')).status).toBe(405);
  });
});
