import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectFromArgs, connectionSettings } from '../../src/cli/connection.js';
import { UserError } from '../../src/cli/errors.js';

async function tempFile(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xops-conn-'));
  const file = join(dir, 'f');
  await writeFile(file, content);
  return file;
}

/** A port on which nothing listens: bound, then released. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('connectionSettings', () => {
  it('reads the environment when no flags are given, user defaulting to root', async () => {
    const s = await connectionSettings({}, { XOPS_XAPI_URL: 'http://pool:80', XOPS_XAPI_PASSWORD: 'pw' });
    expect(s).toMatchObject({ url: 'http://pool:80', user: 'root', password: 'pw', transport: 'auto', insecure: false });
  });

  it('lets flags win over the environment and strips the password file trailing newline', async () => {
    const file = await tempFile('s3cret\n');
    const s = await connectionSettings(
      { xapi: 'https://a', user: 'ops', 'password-file': file, transport: 'xmlrpc', insecure: true },
      { XOPS_XAPI_URL: 'https://b', XOPS_XAPI_USER: 'other', XOPS_XAPI_PASSWORD: 'envpw' },
    );
    expect(s).toMatchObject({ url: 'https://a', user: 'ops', password: 's3cret', transport: 'xmlrpc', insecure: true });
  });

  it.each([
    ['no URL anywhere', {}, { XOPS_XAPI_PASSWORD: 'x' }, /--xapi URL or set XOPS_XAPI_URL/],
    ['no password anywhere', { xapi: 'http://a' }, {}, /--password-file FILE or set XOPS_XAPI_PASSWORD/],
    ['unknown transport', { xapi: 'http://a', transport: 'soap' }, { XOPS_XAPI_PASSWORD: 'x' }, /--transport must be one of/],
    ['password file missing', { xapi: 'http://a', 'password-file': '/nonexistent/pw' }, {}, /cannot read \/nonexistent\/pw: no such file$/],
    ['CA file missing', { xapi: 'http://a', ca: '/nonexistent/ca.pem' }, { XOPS_XAPI_PASSWORD: 'x' }, /--ca: cannot read/],
    ['not an http URL', { xapi: 'ftp://a' }, { XOPS_XAPI_PASSWORD: 'x' }, /not an http\(s\) URL/],
  ])('refuses with one clear line: %s', async (_why, values, env, message) => {
    const err = await connectionSettings(values, env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('connectFromArgs', () => {
  it('reports an unreachable pool as a UserError naming the URL, never the password', async () => {
    const port = await deadPort();
    const err = await connectFromArgs({ xapi: `http://127.0.0.1:${port}` }, { XOPS_XAPI_PASSWORD: 'hunter2' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`cannot reach http://127.0.0.1:${port}: connection refused`);
  });
});
