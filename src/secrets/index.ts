import { readFile, realpath } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { ConfigValue, SecretRef } from '../model/desired.js';
import { inside, secretRefRefusal, type SecretRules } from './policy.js';

export { credentialDigest, digestMatches } from './digest.js';
export { secretRefRefusal, secretUseProblems, XOPS_CREDENTIAL_ENV, type SecretRules, type SecretUse } from './policy.js';

/**
 * Secrets are resolved only at apply time, from the environment or a file, and never written to a
 * plan, a log line or an error message: callers get the plain values plus a `redact` function that
 * blanks every resolved value out of any text before it is shown.
 */
export interface ResolvedConfig {
  values: Record<string, string>;
  /** The keys of `values` that came from a secretRef. */
  secretKeys: ReadonlySet<string>;
  /** Replaces every secret value that was resolved into `values` with `***`. */
  redact(text: string): string;
}

/** Where secrets come from; injectable so tests need not touch the process environment. */
export interface SecretSource {
  env: Record<string, string | undefined>;
  /** Reads a secret file (relative paths resolve against `baseDir`). */
  readFile(path: string): Promise<string>;
  baseDir: string;
  /**
   * The operator's rules for what a secretRef may name. When set, relative files resolve against
   * `rules.dir`, symlinks are followed before the inside-the-folder check, and every failure reads
   * the same ("refused or unreadable"), so a commit cannot probe which paths exist.
   */
  rules?: SecretRules;
}

/** The one message for a refused or unreadable secret under the operator's rules. */
export const SECRET_UNAVAILABLE = "not available: refused by the operator's secrets settings, or unreadable";

/** A secretRef that could not be read: names the object and key, never the value. */
export class SecretError extends Error {
  override name = 'SecretError';
  readonly address: string;
  readonly key: string;
  constructor(address: string, key: string, message: string, options?: { cause?: unknown }) {
    super(`${address}: ${key}: ${message}`, options);
    this.address = address;
    this.key = key;
  }
}

export function processSecretSource(baseDir = process.cwd()): SecretSource {
  return { env: process.env, readFile: (p) => readFile(p, 'utf8'), baseDir };
}

export function isSecretRef(value: unknown): value is SecretRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    'secretRef' in value &&
    typeof (value as SecretRef).secretRef === 'object' &&
    (value as SecretRef).secretRef !== null
  );
}

async function resolveOne(address: string, key: string, ref: SecretRef, source: SecretSource): Promise<string> {
  if (source.rules) return resolveUnderRules(address, key, ref, source, source.rules);
  const { env, file } = ref.secretRef;
  if (env !== undefined && file !== undefined) {
    throw new SecretError(address, key, 'secretRef sets both env and file; set one');
  }
  if (env !== undefined) {
    const value = source.env[env];
    if (value === undefined) throw new SecretError(address, key, `environment variable ${env} is not set`);
    return value;
  }
  if (file !== undefined) {
    const path = resolvePath(source.baseDir, file);
    let text: string;
    try {
      text = await source.readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new SecretError(address, key, `cannot read secret file ${path} (${code})`, { cause: err });
    }
    // A trailing newline is an artefact of `echo x > file`, never part of a password.
    return text.replace(/\r?\n$/, '');
  }
  throw new SecretError(address, key, 'secretRef names neither env nor file');
}

async function resolveUnderRules(address: string, key: string, ref: SecretRef, source: SecretSource, rules: SecretRules): Promise<string> {
  const { env, file } = ref.secretRef;
  if ((env === undefined) === (file === undefined)) throw new SecretError(address, key, 'secretRef must name exactly one of env and file');
  const unavailable = () => new SecretError(address, key, SECRET_UNAVAILABLE);
  if (secretRefRefusal(ref.secretRef, rules) !== undefined || rules.dir === undefined && file !== undefined) throw unavailable();
  if (env !== undefined) {
    const value = source.env[env];
    if (value === undefined) throw unavailable();
    return value;
  }
  try {
    const dir = await realpath(rules.dir!);
    const real = await realpath(resolvePath(rules.dir!, file!));
    const forbidden = await Promise.all(rules.forbiddenFiles.map((f) => realpath(f).catch(() => resolvePath(f))));
    if (!inside(dir, real) || forbidden.includes(real)) throw unavailable();
    return (await source.readFile(real)).replace(/\r?\n$/, '');
  } catch {
    throw unavailable();
  }
}

/**
 * Resolves a map whose values are plain strings or secretRefs (an SR's device_config) for the
 * object at `address`. Rejects with SecretError naming the first key that cannot be resolved.
 */
export async function resolveConfig(
  address: string,
  config: Record<string, ConfigValue | unknown>,
  source: SecretSource,
): Promise<ResolvedConfig> {
  const values: Record<string, string> = {};
  const secrets: string[] = [];
  const secretKeys = new Set<string>();
  for (const [key, value] of Object.entries(config)) {
    if (isSecretRef(value)) {
      const secret = await resolveOne(address, key, value, source);
      values[key] = secret;
      secretKeys.add(key);
      if (secret.length > 0) secrets.push(secret);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      values[key] = String(value);
    } else {
      throw new SecretError(address, key, 'expected a string or a secretRef');
    }
  }
  // Longest first, so a secret that contains another is blanked whole.
  secrets.sort((a, b) => b.length - a.length);
  return {
    values,
    secretKeys,
    redact: (text) => secrets.reduce((out, s) => out.split(s).join('***'), text),
  };
}
