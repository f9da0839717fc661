import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFromArgs } from '../../src/cli/connection.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import type { XapiClient } from '../../src/xapi/client.js';

// Real pools serve HTTPS with certificates the system store does not know: xops must trust exactly
// the CA it is given (--ca), refuse anything else with a clear message, and connect anyway only
// when told to (--insecure).

let sim: Simulator;
let server: https.Server;
let dir: string;
let url: string;
const clients: XapiClient[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A private CA and a server certificate for 127.0.0.1 signed by it. */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=xops test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2',
    '-extfile', 'san.cnf');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xops-tls-'));
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.cnf'], { cwd: dir });
  makeCertificates();
  sim = await startSimulator({ port: 0, multiHost: false });
  const target = new URL(sim.url);
  // TLS terminates here and the calls go on to the simulator, as a host's stunnel front does.
  server = https.createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 500, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(values: Record<string, unknown>): Promise<XapiClient> {
  const client = await connectFromArgs({ xapi: url, ...values }, { XOPS_XAPI_PASSWORD: 'xops' });
  clients.push(client);
  return client;
}

describe('HTTPS to a pool', () => {
  it('connects when --ca names the CA that signed the host certificate', async () => {
    const client = await connect({ ca: join(dir, 'ca.pem') });
    const pools = await client.call<string[]>('pool.get_all');
    expect(pools).toHaveLength(1);
  });

  it('refuses a certificate it cannot verify, saying how to fix it', async () => {
    await expect(connect({})).rejects.toThrow(/TLS certificate not trusted .*pass --ca FILE or --insecure/);
  });

  it('refuses a certificate signed by a different CA than the one given', async () => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=other CA');
    await expect(connect({ ca: join(dir, 'other.pem') })).rejects.toThrow(/TLS certificate not trusted/);
  });

  it('connects to an unverifiable host only with --insecure', async () => {
    const client = await connect({ insecure: true });
    expect(await client.call<string[]>('host.get_all')).toHaveLength(3);
  });
});
