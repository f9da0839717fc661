import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type ControllerHttpServer } from '../../src/controller/http.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { StatusStore } from '../../src/controller/status.js';
import { signWebhookBody, type WebhookDelivery } from '../../src/controller/webhook.js';

const TOKEN = 'a-long-operator-token-0123456789';
const SECRET = 'hook-secret';
const servers: ControllerHttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(extra: Partial<Parameters<typeof startHttpServer>[0]> = {}) {
  const pushes: WebhookDelivery[] = [];
  const server = await startHttpServer({
    port: 0,
    status: new StatusStore('git https://example.invalid/repo.git @ main'),
    metrics: new ControllerMetrics(),
    history: () => ({ entries: [] }),
    webhook: { secret: SECRET, onPush: (d) => pushes.push(d) },
    ...extra,
  });
  servers.push(server);
  return { server, pushes };
}

/** A raw request; `host` overrides the Host header, as a browser tricked by DNS rebinding would send it. */
function call(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('HTTP trust boundary', () => {
  it('with a token set, /status, /metrics and /history refuse requests without it or with a wrong one; probes stay open', async () => {
    const { server } = await serve({ guard: { token: TOKEN } });
    for (const path of ['/status', '/metrics', '/history', '/some-future-route']) {
      const none = await call(server.url, 'GET', path);
      expect(none.status, path).toBe(401);
      expect(none.text).not.toContain('"source"');
      expect((await call(server.url, 'GET', path, bearer(TOKEN.slice(0, -1) + 'x'))).status, path).toBe(401);
      expect((await call(server.url, 'GET', path, { authorization: `Basic ${TOKEN}` })).status, path).toBe(401);
    }
    expect((await call(server.url, 'GET', '/status', bearer(TOKEN))).status).toBe(200);
    expect((await call(server.url, 'GET', '/metrics', bearer(TOKEN))).status).toBe(200);
    expect((await call(server.url, 'GET', '/history', bearer(TOKEN))).status).toBe(200);
    expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(server.url, 'GET', '/readyz')).status).toBe(503);
  });

  it('refuses a Host header naming another site (DNS rebinding), accepts IP literals, localhost and listed names', async () => {
    const { server } = await serve({ guard: { allowedHosts: ['xops.example.net'] } });
    const port = server.port;
    const rebinding = await call(server.url, 'GET', '/status', { host: `evil.example.com:${port}` });
    expect(rebinding.status).toBe(421);
    expect(rebinding.text).toContain("Host 'evil.example.com' is not one this controller answers to");
    expect((await call(server.url, 'GET', '/metrics', { host: 'attacker.test' })).status).toBe(421);
    expect((await call(server.url, 'GET', '/status', { host: 'bad host!' })).status).toBe(400);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `xops.example.net:${port}`, 'XOPS.example.net']) {
      expect((await call(server.url, 'GET', '/status', { host })).status, host).toBe(200);
    }
  });

  it('with a separate webhook listener, the webhook is served only there, and nothing else is', async () => {
    const { server, pushes } = await serve({ guard: { token: TOKEN }, webhookListen: { host: '127.0.0.1', port: 0 } });
    expect(server.webhookUrl).toBeDefined();
    const body = JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40) });
    const signed = { 'content-type': 'application/json', 'x-hub-signature-256': signWebhookBody(SECRET, body), 'x-github-event': 'push', 'x-github-delivery': 'd1' };
    // The main listener no longer takes it, even signed.
    expect((await call(server.url, 'POST', '/webhook', signed, body)).status).toBe(404);
    expect(pushes).toHaveLength(0);
    // The webhook listener exposes nothing else, even with the token.
    for (const path of ['/status', '/metrics', '/history', '/healthz']) {
      expect((await call(server.webhookUrl!, 'GET', path, bearer(TOKEN))).status, path).toBe(404);
    }
    // An unsigned delivery is still refused there; a signed one gets through.
    expect((await call(server.webhookUrl!, 'POST', '/webhook', { 'content-type': 'application/json', 'x-github-event': 'push' }, body)).status).toBe(401);
    const ok = await call(server.webhookUrl!, 'POST', '/webhook', signed, body);
    expect(ok.status).toBeLessThan(300);
    expect(pushes).toHaveLength(1);
  });
});
