import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type ControllerHttpServer } from '../../src/controller/http.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { StatusStore } from '../../src/controller/status.js';
import { createWebRoutes, type WebRoutes } from '../../src/controller/web/routes.js';
import { poolPageView, type PageView } from '../../src/controller/web/view.js';

const TOKEN = 'read-only-token';
const servers: { server: ControllerHttpServer; web: WebRoutes }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.web.close();
    await s.server.close();
  }
});

async function serve(token?: string) {
  const status = new StatusStore('local /srv/pool');
  const web = createWebRoutes({ view: (): PageView => ({ pools: [poolPageView(status.snapshot(), [])] }), token, checkIntervalMs: 10 });
  const server = await startHttpServer({ port: 0, status, metrics: new ControllerMetrics(), web });
  servers.push({ server, web });
  return { url: server.url, status, web };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}
function call(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads `/events` until `count` view events arrived, then closes the stream. */
function views(url: string, count: number, headers: Record<string, string> = {}, onFirst?: () => void): Promise<PageView[]> {
  return new Promise((resolve, reject) => {
    const got: PageView[] = [];
    const req = request(`${url}/events`, { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^event: view\ndata: (.*)$/m.exec(block);
          if (!data) continue;
          got.push(JSON.parse(data[1]) as PageView);
          if (got.length === 1) onFirst?.();
          if (got.length === count) {
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.on('error', (err) => (got.length === count ? undefined : reject(err)));
    req.end();
  });
}

describe('the page routes', () => {
  it('serve the page with a policy that forbids loading anything from another origin', async () => {
    const { url } = await serve();
    const page = await call(url, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.text).toContain('src="/ui/app.js"');
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect((await call(url, 'GET', '/ui/app.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await call(url, 'GET', '/ui/app.css')).headers['content-type']).toMatch(/^text\/css/);
    // The other routes are untouched.
    expect((await call(url, 'GET', '/nope')).status).toBe(404);
  });

  it('stream the view at once, then again when the status changes', async () => {
    const { url, status } = await serve();
    const got = await views(url, 2, {}, () => status.sourceSynced('local:abc', new Date('2026-12-01T10:00:00Z')));
    expect(got[0].pools[0].status.source.latestCommit).toBeUndefined();
    expect(got[1].pools[0]).toMatchObject({ name: 'local /srv/pool', status: { source: { latestCommit: 'local:abc' } } });
  });

  describe('with a read-only token configured', () => {
    it('ask for it: a login form for the page, 401 for the event stream', async () => {
      const { url } = await serve(TOKEN);
      const page = await call(url, 'GET', '/');
      expect(page.status).toBe(401);
      expect(page.text).toContain('<form class="login" method="post" action="/login">');
      expect((await call(url, 'GET', '/events')).status).toBe(401);
      expect((await call(url, 'GET', '/events', { authorization: 'Bearer wrong' })).status).toBe(401);
    });

    it('accept it as a bearer header', async () => {
      const { url } = await serve(TOKEN);
      expect((await call(url, 'GET', '/', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      expect(await views(url, 1, { authorization: `Bearer ${TOKEN}` })).toHaveLength(1);
    });

    it('exchange it for an HttpOnly cookie, from the form or ?token=, and redirect so it leaves the address bar', async () => {
      const { url } = await serve(TOKEN);
      const form = await call(url, 'POST', '/login', { 'content-type': 'application/x-www-form-urlencoded' }, `token=${TOKEN}`);
      expect(form.status).toBe(303);
      expect(form.headers.location).toBe('/');
      const cookie = String(form.headers['set-cookie']);
      expect(cookie).toMatch(/^xops_token=read-only-token; Path=\/; HttpOnly; SameSite=Strict/);
      const viaQuery = await call(url, 'GET', `/?token=${TOKEN}`);
      expect(viaQuery.status).toBe(303);
      expect(String(viaQuery.headers['set-cookie'])).toBe(cookie);
      const jar = cookie.split(';')[0];
      expect((await call(url, 'GET', '/', { cookie: jar })).status).toBe(200);
      expect(await views(url, 1, { cookie: jar })).toHaveLength(1);
    });

    it('refuse a wrong token without setting a cookie, and a login body over 4 KiB', async () => {
      const { url } = await serve(TOKEN);
      const wrong = await call(url, 'POST', '/login', {}, 'token=guess');
      expect(wrong.status).toBe(401);
      expect(wrong.headers['set-cookie']).toBeUndefined();
      expect(wrong.text).toContain('not the one configured');
      expect((await call(url, 'GET', '/?token=guess')).status).toBe(401);
      expect((await call(url, 'POST', '/login', {}, `token=${'x'.repeat(5000)}`)).status).toBe(413);
    });
  });
});
