/**
 * `POST /plan`: plans manifests a client sends against the controller's event-fed pool cache, and
 * answers with the plan. Read-only: nothing is ever applied from here. The same trust rules as a
 * commit apply (operator limits, secret rules, protected objects), so a plan through the API is the
 * plan `xops plan` would make with the controller's configuration.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { operatorChecks } from '../config/checks.js';
import { credentialChanges, operatorSecretSource } from '../config/credentials.js';
import type { ControllerConfig } from '../config/types.js';
import { DEFAULT_LIMITS, liveInventoryFrom, type ManifestFile } from '../manifests/index.js';
import { sortDiagnostics } from '../manifests/loader.js';
import { ManifestCache } from '../manifests/parse-cache.js';
import { FileStore } from './file-store.js';
import { planAnswerChunks } from './plan-answer-json.js';
import { overlayFiles } from './overlay-files.js';
import { repositoryLimits, type RepositoryLimits } from '../source/limits.js';
import { hasErrors, type Diagnostic } from '../model/diagnostics.js';
import type { ObservedState } from '../model/observed.js';
import type { DesiredState } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import { noManifestsWarning } from '../cli/no-manifests.js';
import { gatedPlan } from '../plan/pipeline.js';
import type { PlanMemo } from '../plan/memo.js';
import { checkAdmission } from '../policy/index.js';
import type { OperatorLimits } from '../policy/settings.js';

/**
 * A file of a request: its bytes, or only their SHA-256 (file-store.ts) when the client expects the
 * controller to have them (the commit in force, an earlier request); then it answers 409 with the
 * paths it lacks, and the client sends those again with their bytes.
 */
export type RequestFile = ManifestFile | { path: string; sha256: string };

/**
 * A set told as a recent commit of the controller's Git source and what differs from it (the
 * client's `git diff` against that commit): `files` are then only the changed and added files.
 */
export interface SetOverlay {
  /** One of the commits `GET /plan` lists. */
  commit: string;
  /** Paths of the commit's set the client's set lacks. */
  removed: string[];
  /**
   * SHA-256 (hex) of the client's paths in walk order, each followed by a NUL: the controller
   * plans the overlay only when its result lists exactly these paths (else 409, and the client
   * sends every file by digest).
   */
  paths: string;
  /**
   * The order of the set's files: `walk` (default), as a folder read gives them (a work tree,
   * `xops plan`); `tree`, by path as a Git tree read gives them (`xops diff`).
   */
  order?: 'walk' | 'tree';
}

/** One set of manifests to plan, as the client read them: paths relative to the manifests folder. */
export interface PlanRequestSet {
  files: RequestFile[];
  /** When present, the set is this commit's files with `files` put over them (see SetOverlay). */
  from?: SetOverlay;
  /** The commit the files come from (`xops diff`), recorded in the plan's source; default `local`. */
  commit?: string;
}

/** The request body: the manifests, and for `xops diff` a second set planned against the same snapshot. */
export interface PlanRequest extends PlanRequestSet {
  /** The manifests folder as the client named it, recorded in the plans' source; default the controller's root. */
  root?: string;
  /**
   * false: the plans come without `observed.objects` (what a saved plan is checked against, one
   * entry per object read: megabytes at 10,000 VMs), for a client that only shows the plan.
   */
  objects?: boolean;
  base?: PlanRequestSet;
}

/**
 * One answer per set: `plan`, or `invalid` when the manifests have errors (then nothing was planned,
 * as a partial set could plan deletes of what the broken files declare).
 */
export type PlanResult = { plan: Plan } | { invalid: Diagnostic[] };

/** The response body (200): the head set's result, and the base set's when one was sent. */
export type PlanResponse = PlanResult & { base?: PlanResult };

/**
 * Default of PlanApiOptions.maxRequestBytes: the repository's cap on its files (the operator's
 * `repository.maxTotalBytes`), twice for JSON escaping, and room for the rest of the body.
 */
export function planRequestBytes(repository: RepositoryLimits): number {
  return 2 * repository.maxTotalBytes + 1024 * 1024;
}

/** Plans computed at once; more requests are answered 503, as each holds a copy of the manifests. */
const MAX_CONCURRENT_PLANS = 2;

/** What the plan API needs from the controller. */
export interface PlanApiOptions {
  /** The pool as it is now (the controller's event-fed cache). */
  observe(): Promise<ObservedState>;
  /** Whether the request carries the operator's token; refused with 401 when not. */
  authorized(req: IncomingMessage): boolean;
  /** The manifests folder as the operator named it, recorded in the plan's source. */
  root: string;
  repo?: string;
  config: ControllerConfig;
  limits: OperatorLimits;
  /** Files of xops' own credentials, which no secretRef may name. */
  ownCredentialFiles?: string[];
  /** Largest body read; larger ones are refused with 413 before they are read in full. */
  maxRequestBytes?: number;
  now?: () => Date;
  /**
   * Parsed and validated files by content, shared with the controller's reconciles so that a
   * request sending the files of the commit in force reuses them; default: the API's own.
   */
  manifestCache?: ManifestCache;
  /** Files by digest, shared with the reconciles (which add the commit in force); default: the API's own. */
  fileStore?: FileStore;
  /** Per-VM planning shared with the controller's reconciles (see plan/memo.ts); default: none. */
  planMemo?: PlanMemo;
  /**
   * The controller's Git source's manifests folder inside its repository (`''`: the root): with
   * it, `GET /plan` lists the recent commits a client may name in `from` (see SetOverlay).
   */
  gitFolder?: string;
  /** Checks the controller's reconciles add (a fleet pool's: its Pool manifest must carry its name). */
  documentChecks?: (documents: DesiredState['documents']) => Diagnostic[];
  /** Told of each set planned: told as an overlay of a commit, or by its files. */
  onPlanned?: (set: 'overlay' | 'files') => void;
  /**
   * Told, once per answered request, the CPU seconds its own work took: reading the body, the sets,
   * the load, the plan and the answer's serialisation (the synchronous parts, so a reconcile running
   * during its awaits is not counted).
   */
  onCpu?: (seconds: number) => void;
}

/** A `(req, res)` handler serving `POST /plan` with the options' rules. */
export type PlanApiHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * Builds the `/plan` handler: `POST` plans, `GET` lists the commits a request may name in `from`
 * (PlanBases). Refusals, each a JSON `{error}`: 405 (another method), 401 (no valid token), 413
 * (body over `maxRequestBytes`), 415 (not JSON), 400 (malformed body: the first problem, by
 * field), 409 (files named by a digest the controller does not have, listed in `missing`; or an
 * overlay it cannot make, with `overlay: false`), 503 (too many plans at once, or the pool did
 * not answer).
 */
export function planApi(options: PlanApiOptions): PlanApiHandler {
  const repository = repositoryLimits(options.config.repository);
  const maxBytes = options.maxRequestBytes ?? planRequestBytes(repository);
  const cache = options.manifestCache ?? new ManifestCache();
  const store = options.fileStore ?? new FileStore();
  let running = 0;
  return async (req, res) => {
    if (req.method !== 'POST' && req.method !== 'GET') return reply(res, 405, { error: 'GET or POST only' }, { allow: 'GET, POST' });
    if (!options.authorized(req)) return reply(res, 401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
    if (req.method === 'GET') return reply(res, 200, planBases(store, options.gitFolder));
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') return reply(res, 415, { error: 'the body must be application/json' });
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) return reply(res, 413, { error: `request larger than ${maxBytes} bytes` });
    if (running >= MAX_CONCURRENT_PLANS) return reply(res, 503, { error: `${MAX_CONCURRENT_PLANS} plans are already being computed; try again` }, { 'retry-after': '1' });
    running++;
    const cpu = cpuMeter();
    try {
      const body = await readCapped(req, maxBytes);
      if (body === undefined) return reply(res, 413, { error: `request larger than ${maxBytes} bytes` });
      cpu.start();
      let request: PlanRequest;
      try {
        request = parsePlanRequest(body.toString('utf8'), repository.maxFiles);
      } catch (err) {
        return reply(res, 400, { error: (err as Error).message });
      }
      const head = resolveFiles(request, store);
      const base = request.base ? resolveFiles(request.base, store) : { files: [], missing: [] };
      const unresolved = head.overlay ?? base.overlay;
      if (unresolved) return reply(res, 409, { error: unresolved, overlay: false });
      if (head.missing.length > 0 || base.missing.length > 0) {
        return reply(res, 409, {
          error: 'the controller does not have some files named by digest: send them with their content',
          missing: [...new Set([...head.missing, ...base.missing])],
        });
      }
      cpu.stop();
      let observed: ObservedState;
      try {
        observed = await options.observe();
      } catch (err) {
        return reply(res, 503, { error: `the pool did not answer: ${(err as Error).message}` });
      }
      const now = (options.now ?? (() => new Date()))();
      const objects = request.objects !== false;
      for (const set of request.base ? [request, request.base] : [request]) options.onPlanned?.(set.from ? 'overlay' : 'files');
      const answer: PlanResponse = {
        ...(await planSet({ ...request, files: head.files }, request.root, observed, now, options, cache, objects, cpu)),
        ...(request.base ? { base: await planSet({ ...request.base, files: base.files }, request.root, observed, now, options, cache, objects, cpu) } : {}),
      };
      cpu.start();
      replyChunks(res, 200, planAnswerChunks(answer));
      cpu.stop();
      options.onCpu?.(cpu.seconds());
    } finally {
      cpu.stop();
      running--;
    }
  };
}

/** What `GET /plan` answers: the commits a request's `from` may name, newest first, and the folder they hold. */
export interface PlanBases {
  commits: string[];
  folder?: string;
}

function planBases(store: FileStore, gitFolder: string | undefined): PlanBases {
  if (gitFolder === undefined) return { commits: [] };
  return { commits: store.commits().filter(isCommitId), folder: gitFolder };
}

/**
 * The set's files with their bytes: those sent are kept in the store (their digest computed here),
 * those named by digest are taken from it; `missing` lists the paths whose digest it does not know.
 * A set with `from` is that commit's files under the ones sent; `overlay` says why it could not be
 * made (the commit is no longer kept, or the result's paths are not the client's).
 */
function resolveFiles(set: PlanRequestSet, store: FileStore): { files: ManifestFile[]; missing: string[]; overlay?: string } {
  const sent = resolveSent(set, store);
  if (!set.from || sent.missing.length > 0) return sent;
  const base = store.commitFiles(set.from.commit);
  if (!base) return { ...sent, overlay: `the controller no longer keeps commit ${set.from.commit}` };
  const { files, paths } = overlayFiles(base, sent.files, set.from.removed, set.from.order === 'tree' ? 'tree' : 'walk');
  if (paths !== set.from.paths) return { ...sent, overlay: `commit ${set.from.commit} with the files sent does not hold the paths the client has` };
  return { files, missing: [] };
}

function resolveSent(set: PlanRequestSet, store: FileStore): { files: ManifestFile[]; missing: string[] } {
  const files: ManifestFile[] = [];
  const missing: string[] = [];
  for (const f of set.files) {
    if ('content' in f) {
      store.add(f.content);
      files.push(f);
      continue;
    }
    const content = store.get(f.sha256);
    if (content) files.push({ path: f.path, content });
    else missing.push(f.path);
  }
  return { files, missing };
}

/**
 * Load, admission, operator checks, credential changes, gated plan: what a reconcile does before it
 * applies. Secrets are read as a reconcile reads them (the operator's directory and rules), only to
 * compare with the digest xops applied: a rotated SR password is planned here as it will be applied.
 */
async function planSet(set: { files: ManifestFile[]; commit?: string }, root: string | undefined, observed: ObservedState, now: Date, options: PlanApiOptions, cache: ManifestCache, objects: boolean, cpu: CpuMeter): Promise<PlanResult> {
  // Measured but for the credentials' read (I/O, during which other work may run); a throw is
  // stopped by the handler's own stop().
  cpu.start();
  const dir = root ?? options.root;
  const { desired, diagnostics } = cache.load(set.files, dir, { commit: set.commit ?? 'local', live: liveInventoryFrom(observed), limits: options.config.repository });
  // The controller's own document checks stop a set as the load's errors do (a fleet pool's Pool name, as `plan --pool`).
  const documentProblems = options.documentChecks?.(desired.documents) ?? [];
  if (hasErrors(diagnostics) || hasErrors(documentProblems)) {
    cpu.stop();
    return { invalid: documentProblems.length ? sortDiagnostics([...diagnostics, ...documentProblems]) : diagnostics };
  }
  const checked = [
    ...(set.commit === undefined ? noManifestsWarning(dir, desired, diagnostics) : []),
    ...diagnostics,
    ...checkAdmission(desired),
    ...operatorChecks(desired, options.config, options.ownCredentialFiles),
    ...documentProblems,
  ];
  cpu.stop();
  const changedCredentials = await credentialChanges(desired, observed, options.config, operatorSecretSource(options.config, options.ownCredentialFiles), options.repo);
  cpu.start();
  const plan = gatedPlan(desired, observed, checked, {
    now, repo: options.repo, limits: options.limits, protected: options.config.protected, changedCredentials,
    ...(options.planMemo ? { memo: options.planMemo } : {}), ...(objects ? {} : { objects: false }),
  });
  cpu.stop();
  return { plan };
}

/** CPU time of the stretches between start() and stop(); start() while running and stop() while stopped do nothing. */
interface CpuMeter {
  start(): void;
  stop(): void;
  seconds(): number;
}

function cpuMeter(): CpuMeter {
  let total = 0;
  let since: NodeJS.CpuUsage | undefined;
  return {
    start: () => void (since ??= process.cpuUsage()),
    stop: () => {
      if (!since) return;
      const used = process.cpuUsage(since);
      total += used.user + used.system;
      since = undefined;
    },
    seconds: () => total / 1e6,
  };
}

/**
 * The request body, checked: `{files: [{path, content}], commit?, base?: {files, commit?}}` with
 * string paths and contents. Throws an Error naming the first field that is wrong.
 */
export function parsePlanRequest(text: string, maxFiles: number = DEFAULT_LIMITS.maxFiles): PlanRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`the body is not JSON: ${(err as Error).message}`);
  }
  const head = parseSet(value, 'body', maxFiles);
  const { base, root, objects } = value as { base?: unknown; root?: unknown; objects?: unknown };
  if (root !== undefined && (typeof root !== 'string' || root === '' || root.length > 4096)) throw new Error('body.root must be a non-empty string');
  if (objects !== undefined && typeof objects !== 'boolean') throw new Error('body.objects must be true or false');
  return {
    ...head,
    ...(root !== undefined ? { root: root as string } : {}),
    ...(objects !== undefined ? { objects: objects as boolean } : {}),
    ...(base !== undefined ? { base: parseSet(base, 'base', maxFiles) } : {}),
  };
}

function parseSet(value: unknown, where: string, maxFiles: number): PlanRequestSet {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be an object with a files array`);
  const { files, commit, from } = value as { files?: unknown; commit?: unknown; from?: unknown };
  if (!Array.isArray(files)) throw new Error(`${where}.files must be an array of {path, content}`);
  if (files.length > maxFiles) throw new Error(`${where}.files: ${files.length} files, more than the ${maxFiles} a repository may hold`);
  if (commit !== undefined && (typeof commit !== 'string' || !isCommitId(commit))) throw new Error(`${where}.commit must be a commit id (40 or 64 hex digits)`);
  const overlay = from === undefined ? undefined : parseOverlay(from, `${where}.from`, maxFiles);
  const out: RequestFile[] = files.map((f: unknown, i) => {
    const { path, content, sha256 } = (typeof f === 'object' && f !== null ? f : {}) as { path?: unknown; content?: unknown; sha256?: unknown };
    if (typeof path !== 'string' || path === '' || path.length > 4096) throw new Error(`${where}.files[${i}].path must be a non-empty string`);
    if (content === undefined && sha256 !== undefined) {
      if (typeof sha256 !== 'string' || !isSha256Hex(sha256)) throw new Error(`${where}.files[${i}].sha256 must be 64 lower-case hex digits`);
      return { path, sha256 };
    }
    if (typeof content !== 'string') throw new Error(`${where}.files[${i}].content must be a string (or give sha256 instead)`);
    return { path, content: Buffer.from(content, 'utf8') };
  });
  return { files: out, ...(commit !== undefined ? { commit: commit as string } : {}), ...(overlay ? { from: overlay } : {}) };
}

function parseOverlay(value: unknown, where: string, maxFiles: number): SetOverlay {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be an object {commit, removed, paths}`);
  const { commit, removed, paths, order } = value as { commit?: unknown; removed?: unknown; paths?: unknown; order?: unknown };
  if (typeof commit !== 'string' || !isCommitId(commit)) throw new Error(`${where}.commit must be a commit id (40 or 64 hex digits)`);
  if (!Array.isArray(removed) || removed.length > maxFiles) throw new Error(`${where}.removed must be an array of at most ${maxFiles} paths`);
  removed.forEach((p: unknown, i) => {
    if (typeof p !== 'string' || p === '' || p.length > 4096) throw new Error(`${where}.removed[${i}] must be a non-empty string`);
  });
  if (typeof paths !== 'string' || !isSha256Hex(paths)) throw new Error(`${where}.paths must be 64 lower-case hex digits`);
  if (order !== undefined && order !== 'walk' && order !== 'tree') throw new Error(`${where}.order must be walk or tree`);
  return { commit, removed: removed as string[], paths, ...(order !== undefined ? { order } : {}) };
}

function isCommitId(text: string): boolean {
  return /^[0-9a-f]{40,64}$/.test(text);
}

/** 64 lower-case hex digits; checked per file of a request, 10,000 at a time, so without a regular expression. */
function isSha256Hex(text: string): boolean {
  if (text.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/**
 * A check that the request carries `Authorization: Bearer <token>`, in constant time. The token
 * is compared by digest, so neither its length nor its bytes leak through timing.
 */
export function bearerCheck(token: string): (req: IncomingMessage) => boolean {
  const want = createHash('sha256').update(token).digest();
  return (req) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer +(\S+)\s*$/i.exec(header);
    if (!m) return false;
    return timingSafeEqual(createHash('sha256').update(m[1]).digest(), want);
  };
}

/** The token in a file (its first line, trimmed); an empty file is an error, as it would let anyone in. */
export async function readTokenFile(file: string): Promise<string> {
  const token = (await readFile(file, 'utf8')).split(/\r?\n/)[0].trim();
  if (!token) throw new Error(`${file}: the token file is empty`);
  return token;
}

/** Reads the body, or resolves undefined (and stops buffering) once it passes `maxBytes`. */
function readCapped(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > maxBytes) {
        over = true;
        // Keep draining without buffering so the 413 reaches a client still sending.
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  replyChunks(res, status, [JSON.stringify(body)], headers);
}

/** A JSON answer, sent as the chunks it is made of (see planAnswerChunks) with its length in bytes. */
function replyChunks(res: ServerResponse, status: number, chunks: (string | Buffer)[], headers: Record<string, string> = {}): void {
  let length = 1;
  for (const c of chunks) length += typeof c === 'string' ? Buffer.byteLength(c) : c.length;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': length, 'cache-control': 'no-store', ...(status >= 400 ? { connection: 'close' } : {}), ...headers });
  for (const c of chunks) res.write(c);
  res.end('\n');
}
