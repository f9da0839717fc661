import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator, type TlsIdentity } from '../../src/sim/index.js';
import { parseXmlReply, xmlRequest } from './helpers.js';

// HTTPS with a chosen certificate, switched while the simulator runs (in process and on the control endpoint).
const fixture = (name: string): TlsIdentity => ({
  cert: readFileSync(new URL(`./fixtures/${name}.crt`, import.meta.url), 'utf8'),
  key: readFileSync(new URL(`./fixtures/${name}.key`, import.meta.url), 'utf8'),
});
const A = fixture('tls-a');
const B = fixture('tls-b');
const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** One XML-RPC call on a fresh TLS connection that trusts only `ca`; resolves with the reply and the served certificate. */
function callTrusting(url: string, ca: string, method: string, params: unknown[]): Promise<{ reply: any; served: string }> {
  return new Promise((resolve, reject) => {
    const body = xmlRequest(method, params);
    const req = https.request(url, { method: 'POST', ca, agent: false, headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const served = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? '';
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => parseXmlReply(Buffer.concat(chunks).toString('utf8')).then((reply) => resolve({ reply, served }), reject));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, tls: A });
});
afterAll(() => sim.stop());

describe('HTTPS', () => {
  it('serves XAPI over HTTPS on every host with the chosen certificate', async () => {
    expect(sim.hostUrls).toEqual([1, 2, 3].map((i) => `https://127.0.0.${i}:${sim.port}`));
    const { reply, served } = await callTrusting(sim.url, A.cert, 'session.login_with_password', ['root', 'xops']);
    expect(reply.Status).toBe('Success');
    expect(served).toBe(fingerprint(A.cert));
    const supporter = await callTrusting(sim.hostUrls[2]!, A.cert, 'session.login_with_password', ['root', 'xops']);
    expect(supporter.reply.ErrorDescription).toEqual(['HOST_IS_SLAVE', '127.0.0.1']);
    // A client that trusts another certificate refuses the connection.
    await expect(callTrusting(sim.url, B.cert, 'session.login_with_password', ['root', 'xops'])).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it('switches the certificate at run time, in process and through POST /_sim/tls', async () => {
    sim.setCertificate(B);
    await expect(callTrusting(sim.url, A.cert, 'session.login_with_password', ['root', 'xops'])).rejects.toThrow(/self[- ]signed|certificate/i);
    const onB = await callTrusting(sim.hostUrls[1]!, B.cert, 'session.login_with_password', ['root', 'xops']);
    expect(onB.served).toBe(fingerprint(B.cert));

    // Back to A through the control endpoint, from a client that trusts the certificate served now (B).
    const switched = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const body = JSON.stringify(A);
      const req = https.request(`${sim.url}/_sim/tls`, { method: 'POST', ca: B.cert, agent: false }, (r) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString('utf8')));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(switched.status).toBe(200);
    expect((await callTrusting(sim.url, A.cert, 'session.login_with_password', ['root', 'xops'])).served).toBe(fingerprint(A.cert));
  });

  it('refuses a certificate that is not PEM, and a switch on a plain-HTTP simulator', async () => {
    expect(() => sim.setCertificate({ cert: 'nope', key: A.key })).toThrow();
    const plain = await startSimulator({ port: 0, multiHost: false, seed: 'empty' });
    try {
      expect(() => plain.setCertificate(A)).toThrow(/plain HTTP/);
      const r = await fetch(`${plain.url}/_sim/tls`, { method: 'POST', body: JSON.stringify(A) });
      expect(r.status).toBe(409);
      expect(((await r.json()) as any).error).toMatch(/plain HTTP/);
    } finally {
      await plain.stop();
    }
  });
});
