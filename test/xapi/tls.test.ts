import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFromArgs } from '../../src/cli/connection.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import type { XapiClient } from '../../src/xapi/client.js';
import { makeCertificates, openssl, startTlsFront, type TlsFront } from '../helpers/tls-front.js';

// Real pools serve HTTPS with certificates the system store does not know: xops must trust exactly
// the CA it is given (--ca), refuse anything else with a clear message, and connect anyway only
// when told to (--insecure).

let sim: Simulator;
let front: TlsFront;
let dir: string;
let url: string;
const clients: XapiClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xops-tls-'));
  makeCertificates(dir);
  sim = await startSimulator({ port: 0, multiHost: false });
  // TLS terminates here and the calls go on to the simulator, as a host's stunnel front does.
  front = await startTlsFront(dir, sim.url);
  url = front.url;
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await front.close();
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
    openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=other CA');
    await expect(connect({ ca: join(dir, 'other.pem') })).rejects.toThrow(/TLS certificate not trusted/);
  });

  it('connects to an unverifiable host only with --insecure', async () => {
    const client = await connect({ insecure: true });
    expect(await client.call<string[]>('host.get_all')).toHaveLength(3);
  });
});
