import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Ajv, ErrorObject } from 'ajv';
import { newAjv } from '../manifests/ajv.js';
import { pointerToPath } from '../manifests/paths.js';
import { parseYaml, type ParsedDocument } from '../manifests/yaml.js';
import type { SourceLocation } from '../model/diagnostics.js';
import { CONTROLLER_CONFIG_SCHEMA } from './schema.js';
import { normaliseSubfolder } from '../source/paths.js';
import { defaultConfig, type ControllerConfig, type PoolConfig, type ProtectedSelector } from './types.js';

/** The configuration file is the operator's, small by nature: anything bigger is a mistake. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** A problem with the operator's configuration, one line: `file:line:col: path: message`. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

let validate: ReturnType<Ajv['compile']> | undefined;

/**
 * Reads and checks the operator's configuration. Relative paths in it resolve against the file's
 * folder. Throws ConfigError naming the file, line and field of the first problem.
 */
export async function loadControllerConfig(file: string): Promise<ControllerConfig> {
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new ConfigError(`${file}: not a file`);
    if (info.size > MAX_CONFIG_BYTES) throw new ConfigError(`${file}: ${info.size} bytes; a configuration is at most ${MAX_CONFIG_BYTES}`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? String(err)})`}`);
  }
  return parseControllerConfig(text, file);
}

/** Parses a configuration text (pure apart from path resolution against `file`'s folder). */
export function parseControllerConfig(text: string, file: string): ControllerConfig {
  const parsed = parseYaml(text, file, { maxNodes: 100_000, maxDepth: 20 });
  const problem = parsed.diagnostics.find((d) => d.severity === 'error') ?? parsed.documents.flatMap((d) => d.diagnostics).find((d) => d.severity === 'error');
  if (problem) throw new ConfigError(`${where(problem.location ?? { file, line: 1, col: 1 })}: ${problem.message}`);
  if (parsed.documents.length !== 1) throw new ConfigError(`${file}: expected one YAML document (kind: ControllerConfig), found ${parsed.documents.length}`);
  const doc = parsed.documents[0]!;
  validate ??= newAjv({ allErrors: false, strict: true, strictRequired: false, logger: false }).compile(CONTROLLER_CONFIG_SCHEMA);
  if (!validate(doc.value)) throw new ConfigError(describe(validate.errors?.[0], doc, file));
  const raw = doc.value as RawConfig;
  checkPools(raw.pools ?? [], doc, file);
  return toConfig(raw, dirname(file), file);
}

type RawConfig = {
  limits?: Partial<ControllerConfig['limits']>;
  approvals?: { sameChange?: boolean; tokenFile?: string };
  secrets?: { dir?: string; envPrefix?: string; credentialKeys?: Record<string, string[]> };
  protected?: ProtectedSelector[];
  git?: { verify?: { allowedSigners?: string; gpgKeyring?: string } };
  http?: { tokenFile?: string; webhookListen?: string; allowedHosts?: string[] };
  pools?: PoolConfig[];
  repository?: ControllerConfig['repository'];
};

function toConfig(raw: RawConfig, base: string, file: string): ControllerConfig {
  const config = defaultConfig();
  const path = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(base, p));
  config.file = file;
  config.limits = { ...config.limits, ...raw.limits };
  config.repository = { ...raw.repository };
  config.approvals = { sameChange: raw.approvals?.sameChange ?? false, ...(raw.approvals?.tokenFile ? { tokenFile: path(raw.approvals.tokenFile) } : {}) };
  config.secrets = {
    ...(raw.secrets?.dir ? { dir: path(raw.secrets.dir) } : {}),
    envPrefix: raw.secrets?.envPrefix ?? config.secrets.envPrefix,
    credentialKeys: { ...config.secrets.credentialKeys, ...raw.secrets?.credentialKeys },
  };
  config.protected = raw.protected ?? [];
  const verify = raw.git?.verify;
  if (verify?.allowedSigners) config.git = { verify: { allowedSigners: path(verify.allowedSigners)! } };
  else if (verify?.gpgKeyring) config.git = { verify: { gpgKeyring: path(verify.gpgKeyring)! } };
  config.pools = (raw.pools ?? []).map((p) => ({
    ...p,
    ...(p.passwordFile ? { passwordFile: path(p.passwordFile) } : {}),
    ...(p.ca ? { ca: path(p.ca) } : {}),
    paths: p.paths.map((f) => normaliseSubfolder(f) ?? f),
  }));
  config.http = { ...(raw.http?.tokenFile ? { tokenFile: path(raw.http.tokenFile) } : {}), ...(raw.http?.webhookListen ? { webhookListen: raw.http.webhookListen } : {}), ...(raw.http?.allowedHosts ? { allowedHosts: raw.http.allowedHosts } : {}) };
  return config;
}

/** What the schema cannot say: pool names are unique and paths stay inside the repository. */
function checkPools(pools: PoolConfig[], doc: ParsedDocument, file: string): void {
  const seen = new Map<string, number>();
  pools.forEach((pool, i) => {
    const at = (field: string) => where(lookup(doc, `pools[${i}].${field}`) ?? doc.start);
    const first = seen.get(pool.name);
    if (first !== undefined) throw new ConfigError(`${at('name')}: pools[${i}].name: pool '${pool.name}' is already listed as pools[${first}]`);
    seen.set(pool.name, i);
    pool.paths.forEach((p, j) => {
      if (normaliseSubfolder(p) === undefined) throw new ConfigError(`${at(`paths[${j}]`)}: pools[${i}].paths[${j}]: '${p}' must be a folder inside the repository`);
    });
  });
}

function where(l: SourceLocation): string {
  return `${l.file}:${l.line}:${l.col}`;
}

function describe(err: ErrorObject | undefined, doc: ParsedDocument, file: string): string {
  if (!err) return `${file}: invalid configuration`;
  let path = pointerToPath(err.instancePath, doc.value);
  let message = err.message ?? 'invalid';
  let atKey = false;
  if (err.keyword === 'additionalProperties') {
    const extra = (err.params as { additionalProperty: string }).additionalProperty;
    path = path ? `${path}.${extra}` : extra;
    message = 'unknown field';
    atKey = true;
  } else if (err.keyword === 'required') {
    message = `missing required field '${(err.params as { missingProperty: string }).missingProperty}'`;
  } else if (err.keyword === 'const') {
    message = `must be ${JSON.stringify((err.params as { allowedValue: unknown }).allowedValue)}`;
  } else if (err.keyword === 'enum') {
    message = `must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  const location = (atKey ? doc.keyLocations.get(path) : undefined) ?? lookup(doc, path) ?? doc.start;
  return `${where(location)}: ${path || '(document)'}: ${message}`;
}

/** The location of `path`, or of its nearest parent written in the file. */
function lookup(doc: ParsedDocument, path: string): SourceLocation | undefined {
  for (let p: string | undefined = path; p !== undefined; p = p.includes('.') || p.includes('[') ? p.replace(/(\.[^.[\]]+|\[[^\]]*\])$/, '') : p === '' ? undefined : '') {
    const l = doc.locations.get(p);
    if (l) return l;
  }
  return undefined;
}
