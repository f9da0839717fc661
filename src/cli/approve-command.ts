import { request } from 'node:http';
import { parseCommandArgs, readFlagFile, str } from './args.js';
import { UserError } from './errors.js';

const USAGE = `usage: xops approve HASH --server URL --token-file FILE [--pool NAME]

Approves one held action through a running controller (POST /approve). HASH is the approval hash
the plan or /status shows for the held action: the approval covers exactly that change, and a
changed plan needs a new one. The controller keeps it in its cache folder and reconciles at once.

  --server URL          the controller, e.g. http://127.0.0.1:9420
  --token-file FILE     file holding the controller's approvals token (approvals.tokenFile)
  --pool NAME           the pool the held action is in (required by a fleet replica, which
                        serves several pools; a one-pool controller ignores it)
  --timeout-ms N        give up after this long (default 10000)`;

/** `xops approve HASH`: exit 0 once the controller recorded the approval. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(argv, {
    server: { type: 'string' },
    'token-file': { type: 'string' },
    'timeout-ms': { type: 'string' },
    pool: { type: 'string' },
  }, USAGE);
  if (help) return 0;
  const hash = positionals[0];
  if (positionals.length !== 1 || !hash || !/^[0-9a-f]{12}$/.test(hash)) throw new UserError('give exactly one approval hash (12 hex characters), e.g. xops approve 3f2a9c0d1e4b --server URL --token-file FILE');
  const server = str(values.server);
  if (!server) throw new UserError('--server URL is required (the controller, e.g. http://127.0.0.1:9420)');
  let url: URL;
  try {
    url = new URL('/approve', server);
  } catch {
    throw new UserError(`--server: not a URL: ${server}`);
  }
  if (url.protocol !== 'http:') throw new UserError(`--server: only http:// is supported (put TLS in front of the controller), got ${url.protocol}`);
  const tokenFile = str(values['token-file']);
  if (!tokenFile) throw new UserError('--token-file FILE is required');
  const token = (await readFlagFile('--token-file', tokenFile)).trim();
  const timeoutMs = Number(str(values['timeout-ms']) ?? '10000');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) throw new UserError('--timeout-ms must be an integer between 100 and 600000');
  const pool = str(values.pool);
  if (pool !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(pool)) throw new UserError(`--pool must be a pool name from the configuration, not '${pool}'`);
  const body = JSON.stringify({ hash, ...(pool !== undefined ? { pool } : {}) });
  const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', timeout: timeoutMs, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 4096) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').trim() }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  }).catch((err: unknown) => {
    throw new UserError(`cannot reach ${url.origin}: ${err instanceof Error ? err.message : String(err)}`);
  });
  if (reply.status !== 200) throw new UserError(`${url.origin} refused the approval (${reply.status}): ${reply.text.slice(0, 300)}`);
  process.stdout.write(`${reply.text}\n`);
  return 0;
}
