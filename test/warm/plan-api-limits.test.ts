/**
 * The plan API's bound on request size, enforced while the body streams in (a client that sends
 * no length, or lies about it), so an oversized request never gets buffered or planned.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/index.js';
import { startHttpServer, type ControllerHttpServer } from '../../src/controller/http.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { bearerCheck, planApi } from '../../src/controller/plan-api.js';
import { StatusStore } from '../../src/controller/status.js';

const servers: ControllerHttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(maxRequestBytes: number, observed: { calls: number }) {
  const server = await startHttpServer({
    port: 0,
    status: new StatusStore('test'),
    metrics: new ControllerMetrics(),
    plan: planApi({
      observe: async () => {
        observed.calls++;
        throw new Error('the pool is not part of this test');
      },
      authorized: bearerCheck('t0ken'),
      root: '.',
      config: defaultConfig(),
      limits: defaultConfig().limits,
      maxRequestBytes,
    }),
  });
  servers.push(server);
  return server;
}

/** POSTs `chunks` with chunked encoding (no content-length), as a streaming client does. */
function streamed(url: string, chunks: string[]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + '/plan', { method: 'POST', headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(got).toString() }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('POST /plan size bound', () => {
  it('answers 413 once a body without a length passes the limit, without asking the pool', async () => {
    const observed = { calls: 0 };
    const server = await serve(1000, observed);
    const files = JSON.stringify({ files: [{ path: 'a.yaml', content: 'x'.repeat(2000) }] });
    const r = await streamed(server.url, [files.slice(0, 500), files.slice(500)]);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.text)).toEqual({ error: 'request larger than 1000 bytes' });
    expect(observed.calls).toBe(0);
  });

  it('plans a body within the limit (here: reaching the pool, which answers 503 when it fails)', async () => {
    const observed = { calls: 0 };
    const server = await serve(1000, observed);
    const r = await streamed(server.url, ['{"files":', '[]}']);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).error).toBe('the pool did not answer: the pool is not part of this test');
    expect(observed.calls).toBe(1);
  });

  it('is not served (404) by a server without the plan API', async () => {
    const server = await startHttpServer({ port: 0, status: new StatusStore('test'), metrics: new ControllerMetrics() });
    servers.push(server);
    const r = await streamed(server.url, ['{}']);
    expect(r.status).toBe(404);
  });
});
