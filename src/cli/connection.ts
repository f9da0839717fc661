import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ObservedState } from '../model/observed.js';
import { takeSnapshot } from '../observe/snapshot.js';
import { XapiError } from '../xapi/caller.js';
import { XapiClient, normaliseUrl, type XapiClientOptions } from '../xapi/client.js';
import { XapiTransportError, XapiUnreachableError } from '../xapi/errors.js';
import { parseDuration } from '../manifests/units.js';
import { readFlagFile, str } from './args.js';
import { fsErrorInWords } from './errno.js';
import { UserError } from './errors.js';

export { CONNECTION_USAGE, connectionOptions } from './connection-flags.js';

const TRANSPORTS = ['auto', 'jsonrpc', 'xmlrpc'] as const;

/**
 * The client options the flags and environment describe. Flags win over the environment. Throws
 * UserError when something is missing or malformed; the password never appears in a message.
 */
export async function connectionSettings(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<XapiClientOptions> {
  const url = str(values.xapi) ?? env.XOPS_XAPI_URL;
  if (!url) throw new UserError('no pool to talk to: pass --xapi URL or set XOPS_XAPI_URL');
  try {
    normaliseUrl(url);
  } catch {
    throw new UserError(`--xapi: not an http(s) URL: ${url}`);
  }
  const user = str(values.user) ?? env.XOPS_XAPI_USER ?? 'root';
  const passwordFile = str(values['password-file']);
  const password = passwordFile ? await readFlagFile('--password-file', passwordFile) : env.XOPS_XAPI_PASSWORD;
  if (password === undefined) throw new UserError('no password: pass --password-file FILE or set XOPS_XAPI_PASSWORD');
  const transport = str(values.transport) ?? 'auto';
  if (!(TRANSPORTS as readonly string[]).includes(transport)) {
    throw new UserError(`--transport must be one of ${TRANSPORTS.join(', ')}, got '${transport}'`);
  }
  const ca = str(values.ca);
  // Trusting one CA and trusting every certificate contradict each other; refusing beats guessing which was meant.
  if (ca && values.insecure === true) throw new UserError('--ca and --insecure contradict each other: pass one');
  if (ca) {
    try {
      await readFile(ca);
    } catch (err) {
      throw new UserError(`--ca: cannot read ${ca}: ${fsErrorInWords(err)}`);
    }
  }
  const timeoutMs = timeoutOf(values.timeout);
  return {
    url,
    user,
    password,
    transport: transport as XapiClientOptions['transport'],
    ca,
    insecure: values.insecure === true,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

/** `--timeout 30s` (bare numbers are seconds), bounded to 1 s..1 h, in milliseconds. */
export function timeoutOf(value: unknown): number | undefined {
  const text = str(value);
  if (text === undefined) return undefined;
  const parsed = parseDuration(/^\d+$/.test(text) ? `${text}s` : text);
  if (!parsed.ok) throw new UserError(`--timeout: ${parsed.message}`);
  const ms = Number(parsed.value) * 1000;
  if (ms < 1000 || ms > 3_600_000) throw new UserError(`--timeout must be between 1s and 1h, not '${text}'`);
  return ms;
}

/**
 * Connects with the settings the flags and environment describe, turning failures into one-line UserErrors.
 * `logger` gets the client's own lines (at trace: one per XAPI call, method names only).
 */
export async function connectFromArgs(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, logger?: Logger): Promise<XapiClient> {
  const settings = { ...(await connectionSettings(values, env)), ...(logger ? { logger } : {}) };
  try {
    return await XapiClient.connect(settings);
  } catch (err) {
    throw explainConnectError(settings, err);
  }
}

/** Takes one snapshot of the pool the flags (or environment) point at, then disconnects. */
export async function observePool(values: Record<string, unknown>): Promise<ObservedState> {
  const client = await connectFromArgs(values);
  try {
    return await takeSnapshot(client);
  } finally {
    await client.close();
  }
}

function explainConnectError(settings: XapiClientOptions, err: unknown): UserError {
  const where = normaliseUrl(settings.url).origin;
  if (err instanceof XapiError) {
    if (err.code === 'SESSION_AUTHENTICATION_FAILED') {
      return new UserError(`login to ${where} as ${settings.user} failed: wrong user name or password`);
    }
    return new UserError(`login to ${where} failed: ${err.code}${err.params.length ? ' ' + err.params.join(' ') : ''}`);
  }
  if (err instanceof XapiTransportError) {
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(err.code)) {
      return new UserError(`cannot reach ${where}: TLS certificate not trusted (${err.code}); pass --ca FILE or --insecure`);
    }
    // Something that answered, but not as XAPI (no JSON-RPC, no TLS, garbage), was reached.
    return new UserError(err.answered ? `${where}: ${err.reason}` : `cannot reach ${where}: ${err.reason}`);
  }
  if (err instanceof XapiUnreachableError) return new UserError(`cannot reach ${where}: ${err.message}`);
  return new UserError(`cannot connect to ${where}: ${err instanceof Error ? err.message : String(err)}`);
}
