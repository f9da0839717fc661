import { execFile } from 'node:child_process';
import http from 'node:http';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFromArgs } from '../../src/cli/connection.js';
import { XapiClient, type XapiClientOptions } from '../../src/xapi/client.js';
import { XapiTransportError, describeNetworkError } from '../../src/xapi/errors.js';

// Servers that do not behave like XAPI hosts: every failure must end in one readable line, within
// the client's timeout, whatever the server does. Outcomes here never depend on timer races: a
// server that never answers times out for certain, only the moment varies.

const servers: http.Server[] = [];
const sockets = new Set<Socket>();
const timers = new Set<ReturnType<typeof setInterval>>();

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

/** A local HTTP server answering every request with `handle`, given the request body. */
async function serve(handle: Handler): Promise<string> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => handle(req, body, res));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A JSON-RPC reply with XAPI's envelope. */
function jsonReply(res: http.ServerResponse, id: unknown, result: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', result, id }));
}

afterEach(async () => {
  for (const t of timers) clearInterval(t);
  timers.clear();
  for (const s of sockets) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function failure(opts: Partial<XapiClientOptions> & { url: string }): Promise<XapiTransportError> {
  const err = await XapiClient.connect({ user: 'root', password: 'hunter2', ...opts }).then(
    async (c) => {
      await c.close();
      throw new Error('connected, but should not have');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(XapiTransportError);
  const e = err as XapiTransportError;
  // One line, no stack, no password, no OpenSSL internals.
  expect(e.message).not.toMatch(/\n|hunter2|ssl3_|SSL routines|\.c:\d+/);
  return e;
}

describe('a server that never answers, or drips', () => {
  it('ends at the client timeout with a one-line error', async () => {
    const url = await serve(() => undefined);
    const e = await failure({ url, timeoutMs: 150, transport: 'jsonrpc' });
    expect(e.code).toBe('ETIMEDOUT');
    expect(e.message).toBe(`session.login_with_password on ${url}: no reply within 150 ms`);
  });

  it('ends at the client timeout even while bytes keep coming', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"jsonrpc":"2.0","result":"');
      timers.add(setInterval(() => res.write('x'), 10));
    });
    const e = await failure({ url, timeoutMs: 200, transport: 'jsonrpc' });
    expect(e.code).toBe('ETIMEDOUT');
    expect(e.reason).toMatch(/^reply not complete within 200 ms \(\d+ bytes received\)$/);
  });
});

describe('replies that are not XAPI replies', () => {
  it('reports garbage sent as JSON as an unreadable reply, in one line', async () => {
    const url = await serve((_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0",\n<html>oops'));
    const e = await failure({ url, transport: 'jsonrpc' });
    expect(e.code).toBe('BAD_REPLY');
    expect(e.reason).toMatch(/^unreadable reply: /);
  });

  it('says the host does not speak JSON-RPC on HTTP 501 or 404 for /jsonrpc', async () => {
    for (const status of [501, 404]) {
      const url = await serve((_req, _body, res) => res.writeHead(status).end('no'));
      const e = await failure({ url, transport: 'jsonrpc' });
      expect(e).toMatchObject({ code: `HTTP_${status}`, answered: true });
      expect(e.reason).toBe(`the host does not speak JSON-RPC (HTTP ${status} on /jsonrpc)`);
    }
  });

  it('says so when an https URL points at a plain-HTTP server', async () => {
    const url = await serve((_req, _body, res) => res.end('plain'));
    const e = await failure({ url: url.replace('http:', 'https:'), insecure: true });
    expect(e.code).toBe('NOT_TLS');
    expect(e.reason).toMatch(/^the host does not speak TLS on port \d+: is it a plain http:\/\/ URL\?$/);
    // The CLI prints the same reason, and does not call a host that answered "unreachable".
    const cli = await connectFromArgs({ xapi: url.replace('http:', 'https:'), insecure: true }, { XOPS_XAPI_PASSWORD: 'x' }).catch(
      (err: unknown) => err as Error,
    );
    expect((cli as Error).message).toMatch(/^https:\/\/127\.0\.0\.1:\d+: the host does not speak TLS/);
  });
});

describe('reply size cap', () => {
  const big = 'x'.repeat(256 * 1024);

  it('refuses a reply announced larger than maxReplyBytes', async () => {
    const url = await serve((_req, body, res) => jsonReply(res, JSON.parse(body).id, big));
    const e = await failure({ url, transport: 'jsonrpc', maxReplyBytes: 64 * 1024 });
    expect(e.code).toBe('REPLY_TOO_LARGE');
    expect(e.reason).toMatch(/over the 65536-byte limit \(maxReplyBytes\)/);
  });

  it('refuses a chunked reply once it grows past maxReplyBytes', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' }); // no content-length: chunked
      res.write('<?xml version="1.0"?><methodResponse><params><param><value>');
      timers.add(setInterval(() => res.write(big), 5));
    });
    const e = await failure({ url, transport: 'xmlrpc', maxReplyBytes: 1024 * 1024 });
    expect(e.code).toBe('REPLY_TOO_LARGE');
  });

  it('takes a reply just under the cap', async () => {
    const url = await serve((_req, body, res) => {
      const { method, id } = JSON.parse(body) as { method: string; id: number };
      jsonReply(res, id, method === 'session.login_with_password' ? 'OpaqueRef:s' : big);
    });
    const client = await XapiClient.connect({ url, user: 'root', password: 'x', transport: 'jsonrpc', maxReplyBytes: 300 * 1024 });
    expect(await client.call('pool.get_name_label', 'OpaqueRef:p')).toBe(big);
    await client.close();
  });
});

describe('HOST_IS_SLAVE to an address the pool never listed', () => {
  it('is refused mid-session, and the client never contacts that address', async () => {
    let logins = 0;
    const url = await serve((_req, body, res) => {
      const { method, id } = JSON.parse(body) as { method: string; id: number };
      if (method === 'session.login_with_password') logins++;
      if (method === 'session.login_with_password' || method === 'session.logout') return jsonReply(res, id, 'OpaqueRef:s');
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', error: { code: 1, message: 'HOST_IS_SLAVE', data: ['203.0.113.9'] }, id }));
    });
    const followed: string[] = [];
    const client = await XapiClient.connect({ url, user: 'root', password: 'x', transport: 'jsonrpc',
      hostUrl: (a) => (followed.push(a), url) });
    const err = await client.call('VM.get_all').catch((e: unknown) => e);
    await client.close();
    expect(err).toMatchObject({ code: 'UNLISTED_HOST' });
    expect((err as Error).message).toMatch(/^VM\.get_all on http:\/\/127\.0\.0\.1:\d+: the host says the pool master is 203\.0\.113\.9/);
    expect(followed).toEqual([]);
    expect(logins).toBe(1);
  });
});

describe('socket errors in words', () => {
  it('says "connection refused" for a port nobody listens on', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const e = await failure({ url: `http://127.0.0.1:${port}` });
    expect(e).toMatchObject({ code: 'ECONNREFUSED', sent: false, reason: 'connection refused' });
  });

  it.each([
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND pool.example', 'no such host'],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.1:443', 'no route to host'],
    ['ECONNRESET', 'socket hang up', 'the host closed the connection without replying'],
    ['EWHATEVER', 'something odd\nhappened', 'something odd happened (EWHATEVER)'],
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ssl3_read_bytes:sslv3 alert handshake failure:../deps/openssl', 'TLS handshake failed (ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE)'],
  ])('%s', (code, message, words) => {
    expect(describeNetworkError(code, message, new URL('https://pool.example'))).toBe(words);
  });
});

describe('the CLI, when the pool answers garbage after login', () => {
  // Runs `node dist/src/cli.js` as a child process: `npm test` builds dist first.
  it('prints one line naming the call and the host, not an internal error with a stack', async () => {
    const url = await serve((_req, body, res) => {
      const { method, id } = JSON.parse(body) as { method: string; id: number };
      if (method.startsWith('session.')) return jsonReply(res, id, 'OpaqueRef:s');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","result":{"OpaqueRef:a":{"x":');
    });
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['dist/src/cli.js', 'export', '--xapi', url, '--transport', 'jsonrpc', '--dir', '/nonexistent'],
        { env: { ...process.env, XOPS_XAPI_PASSWORD: 'hunter2' } }, (_err, _out, err) => resolve({ code: child.exitCode, stderr: err }));
    });
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^xops: \S+ on http:\/\/127\.0\.0\.1:\d+: unreadable reply: JSON reply cut short or malformed/);
    expect(stderr).not.toMatch(/internal error|hunter2|    at /);
  });
});
