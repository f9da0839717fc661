/**
 * `--server URL` for `xops plan` and `xops diff`: the manifests go to a running controller, which
 * plans them against its event-fed pool cache (`POST /plan`, `src/controller/plan-api.ts`) and
 * answers with the plan. Kept free of the loader and planner, so the warm path loads little.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { ManifestFile } from '../manifests/loader.js';
import type { Diagnostic } from '../model/diagnostics.js';
import type { Plan } from '../model/plan.js';
import { readFlagFile, str } from './args.js';
import { UserError } from './errors.js';
import { fileDigest } from '../manifests/file-digest.js';
import type { SendableFile } from './folder-digests.js';
import type { OverlayBases, OverlaySet } from './git-overlay.js';

/** The flags that send a plan to a controller. */
export const serverOptions = {
  server: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export const SERVER_USAGE = `planning on a running controller (instead of connecting to the pool):
  --server URL          the controller's HTTP address (e.g. http://127.0.0.1:9420): it plans the
                        manifests against its cached pool state, with its own configuration
                        (limits, secret rules, protected objects); nothing is applied
  --token-file FILE     the bearer token the controller requires (default: the configuration's
                        http.tokenFile)`;

/** One set of manifests as the wire carries it. */
interface WireSet {
  files: ({ path: string; content: string } | { path: string; sha256: string })[];
  commit?: string;
}

/** A set's answer: the plan, or the manifests' errors (nothing planned). */
export type RemoteResult = { plan: Plan } | { invalid: Diagnostic[] };

/** Longest wait for the controller's answer; planning 50k VMs takes seconds, not minutes. */
const REPLY_TIMEOUT_MS = 120_000;
/** Largest answer read: a plan of every object of a large pool, with room to spare. */
const MAX_REPLY_BYTES = 512 * 1024 * 1024;

/**
 * Refuses the flags a controller decides for itself with `--server` (its pool, limits and
 * repository identity); `whose`: "the controller's pool" or "the replica's pools".
 */
export function refuseServerOverrides(values: Record<string, unknown>, whose: string): void {
  if (str(values.xapi) || values['allow-adopt'] || values['allow-prune'] || values['allow-destructive'] || str(values['repo-id'])) {
    throw new UserError(`--server plans with ${whose}, limits and repository identity: leave out --xapi, --repo-id and --allow-*`);
  }
}

/** The token: `--token-file`, else the operator configuration's `http.tokenFile`. UserError when neither. */
export async function serverToken(values: Record<string, unknown>, configTokenFile: string | undefined): Promise<string> {
  const flag = str(values['token-file']);
  const file = flag ?? configTokenFile;
  if (!file) throw new UserError('--server needs a token: --token-file FILE, or http.tokenFile in the configuration (--config)');
  const token = (await readFlagFile(flag ? '--token-file' : 'http.tokenFile', file)).split(/\r?\n/)[0].trim();
  if (!token) throw new UserError(`${flag ? '--token-file' : 'http.tokenFile'}: ${file} is empty`);
  return token;
}

/**
 * Asks the controller at `server` to plan `head` (and `base`, against the same pool snapshot).
 * Every refusal or transport failure is a one-line UserError naming the server.
 */
export async function planOnServer(
  server: string,
  token: string,
  root: string,
  head: { files: SendableFile[]; commit?: string },
  base?: { files: SendableFile[]; commit?: string },
  /** false: the plan only gets shown, so the controller leaves out `observed.objects` (see plan-api.ts). */
  objects = true,
  /** A fleet replica's pool (`/plan/<pool>`); default: the controller's one pool. */
  pool?: string,
): Promise<{ head: RemoteResult; base?: RemoteResult }> {
  const url = planUrl(server, pool);
  // Every file by digest first: the controller has most of them (the commit in force); the bytes
  // go only for the paths it says it lacks.
  const named = (set: { files: SendableFile[]; commit?: string }, send: ReadonlySet<string>) => wire(set, send);
  const shown = objects ? {} : { objects: false };
  let sent = await post(url, token, JSON.stringify({ root, ...shown, ...named(head, NONE), ...(base ? { base: named(base, NONE) } : {}) }));
  const lacking = sent.status === 409 ? missingPaths(sent.text) : undefined;
  if (lacking) sent = await post(url, token, JSON.stringify({ root, ...shown, ...named(head, lacking), ...(base ? { base: named(base, lacking) } : {}) }));
  const ok = answerOf(server, sent);
  const headResult: RemoteResult = 'plan' in ok ? { plan: ok.plan } : { invalid: ok.invalid };
  return { head: headResult, ...(ok.base ? { base: ok.base } : {}) };
}

/**
 * The commits the controller keeps that a set may be told against (GET /plan, see git-overlay.ts);
 * none from a controller without them (a folder source, or an older xops answering 405).
 */
export async function basesOnServer(server: string, token: string): Promise<OverlayBases> {
  const { status, text } = await send(planUrl(server), token, 'GET');
  if (status === 401) throw new UserError(`--server ${server}: HTTP 401: missing or wrong bearer token`);
  if (status !== 200) return { commits: [] };
  try {
    const { commits, folder } = JSON.parse(text) as { commits?: unknown; folder?: unknown };
    const ids = Array.isArray(commits) ? commits.filter((c): c is string => typeof c === 'string' && /^[0-9a-f]{40,64}$/.test(c)).slice(0, 8) : [];
    return typeof folder === 'string' ? { commits: ids, folder } : { commits: [] };
  } catch {
    return { commits: [] };
  }
}

/**
 * Plans a set told as one of the controller's commits and what differs (git-overlay.ts), and for
 * `xops diff` a base set beside it; undefined when the controller cannot make one of them (it no
 * longer keeps the commit, or its paths differ): then the caller sends every file by digest.
 */
export async function planOverlayOnServer(
  server: string,
  token: string,
  root: string,
  head: OverlaySet & { commit?: string },
  objects: boolean,
  base?: OverlaySet & { commit?: string },
): Promise<{ head: RemoteResult; base?: RemoteResult } | undefined> {
  const set = (o: OverlaySet & { commit?: string }) => ({
    files: o.files.map((f) => ({ path: f.path, content: f.content.toString('utf8') })),
    from: o.from,
    ...(o.commit ? { commit: o.commit } : {}),
  });
  const body = { root, ...(objects ? {} : { objects: false }), ...set(head), ...(base ? { base: set(base) } : {}) };
  const sent = await post(planUrl(server), token, JSON.stringify(body));
  if (sent.status === 409 && refusedOverlay(sent.text)) return undefined;
  const ok = answerOf(server, sent);
  return { head: 'plan' in ok ? { plan: ok.plan } : { invalid: ok.invalid }, ...(ok.base ? { base: ok.base } : {}) };
}

function planUrl(server: string, pool?: string): URL {
  let url: URL;
  try {
    url = new URL(pool === undefined ? '/plan' : `/plan/${encodeURIComponent(pool)}`, server);
  } catch {
    throw new UserError(`--server must be a URL such as http://127.0.0.1:9420, not '${server}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`--server must be an http:// or https:// URL, not '${server}'`);
  return url;
}

/** A 200 answer's results; any other status, or an answer that is no plan, is a one-line UserError. */
function answerOf(server: string, { status, text }: { status: number; text: string }): RemoteResult & { base?: RemoteResult } {
  let answer: (RemoteResult & { base?: RemoteResult }) | { error?: string };
  try {
    answer = JSON.parse(text);
  } catch {
    throw new UserError(`--server ${server}: HTTP ${status}, and the answer is not JSON (is this an xops controller?)`);
  }
  if (status !== 200) {
    const why = (answer as { error?: string }).error ?? 'no reason given';
    if (status === 404) throw new UserError(`--server ${server}: the controller does not serve plans (${why})`);
    throw new UserError(`--server ${server}: HTTP ${status}: ${why}`);
  }
  const ok = answer as RemoteResult & { base?: RemoteResult };
  if (!('plan' in ok) && !('invalid' in ok)) throw new UserError(`--server ${server}: the answer holds no plan`);
  return ok;
}

function refusedOverlay(text: string): boolean {
  try {
    return (JSON.parse(text) as { overlay?: unknown }).overlay === false;
  } catch {
    return false;
  }
}

const NONE: ReadonlySet<string> = new Set();

/** Files already read (a Git tree), as planOnServer sends them. */
export function sendable(files: ManifestFile[]): SendableFile[] {
  return files.map((f) => ({ path: f.path, sha256: fileDigest(f.content), content: () => f.content }));
}

/** The set on the wire: the bytes of the paths in `send`, the others by digest. */
function wire(set: { files: SendableFile[]; commit?: string }, send: ReadonlySet<string>): WireSet {
  const files = set.files.map((f) => (send.has(f.path) ? { path: f.path, content: f.content().toString('utf8') } : { path: f.path, sha256: f.sha256 }));
  return { files, ...(set.commit ? { commit: set.commit } : {}) };
}

/** The paths a 409 answer says the controller lacks; undefined when the answer is not that. */
function missingPaths(text: string): Set<string> | undefined {
  try {
    const { missing } = JSON.parse(text) as { missing?: unknown };
    return Array.isArray(missing) && missing.every((p) => typeof p === 'string') ? new Set(missing as string[]) : undefined;
  } catch {
    return undefined;
  }
}

function post(url: URL, token: string, body: string): Promise<{ status: number; text: string }> {
  return send(url, token, 'POST', body);
}

async function send(url: URL, token: string, method: 'GET' | 'POST', body?: string): Promise<{ status: number; text: string }> {
  // TLS costs a warm plan 10 ms of module loading; a plain-HTTP controller (on localhost, say) never needs it.
  const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new UserError(`--server ${url.origin}: ${why}`));
    const req = request(
      url,
      {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
          authorization: `Bearer ${token}`,
          accept: 'application/json',
        },
        timeout: REPLY_TIMEOUT_MS,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_REPLY_BYTES) {
            req.destroy();
            fail(`answer larger than ${MAX_REPLY_BYTES} bytes`);
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => fail(err.message));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      fail(`no answer within ${REPLY_TIMEOUT_MS / 1000} s`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ECONNREFUSED' ? 'connection refused (is the controller running?)' : err.message));
    req.end(body ?? '');
  });
}
