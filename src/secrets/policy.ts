import { isAbsolute, relative, resolve } from 'node:path';
import type { Diagnostic, SourceLocation } from '../model/diagnostics.js';
import type { SecretRef } from '../model/desired.js';

/**
 * What the operator lets a commit's secretRefs name (from `secrets` in the operator's configuration)
 * plus xops' own credentials, which no commit may ever name.
 */
export interface SecretRules {
  /** secretRef.file must resolve inside this folder; undefined: file refs are refused. */
  dir?: string;
  /** secretRef.env must start with this; undefined: env refs are refused. */
  envPrefix?: string;
  /** Files holding xops' own credentials (XAPI password, webhook secret, API tokens). */
  forbiddenFiles: string[];
  /** Environment variables holding xops' own credentials. */
  forbiddenEnv: string[];
}

/** Environment variables that hold xops' own credentials: never a commit's to read. */
export const XOPS_CREDENTIAL_ENV = ['XOPS_XAPI_PASSWORD', 'XOPS_WEBHOOK_SECRET', 'XOPS_API_TOKEN'];

/** One secretRef written in a manifest, with whether the key it sits on holds a credential. */
export interface SecretUse {
  address: string;
  /** JSON path of the value holding the secretRef, e.g. `spec.deviceConfig.password`. */
  path: string;
  ref: SecretRef['secretRef'];
  location: SourceLocation;
  /** Undefined when the key may hold a secret; else why not (which keys may). */
  notCredential?: string;
}

/**
 * Why a secretRef may not be read, judged on its text alone (the resolver checks symlinks again
 * when it reads): undefined when it may.
 */
export function secretRefRefusal(ref: SecretRef['secretRef'], rules: SecretRules, baseDir?: string): string | undefined {
  if (ref.env !== undefined) {
    if (rules.forbiddenEnv.includes(ref.env)) return `secretRef.env '${ref.env}' names one of xops' own credentials`;
    if (rules.envPrefix === undefined) return 'secrets from environment variables are refused: the operator\'s configuration sets no secrets.envPrefix';
    if (!ref.env.startsWith(rules.envPrefix)) return `secretRef.env '${ref.env}' is refused: the operator allows only variables starting with ${rules.envPrefix}`;
  }
  if (ref.file !== undefined) {
    if (rules.dir === undefined) return 'secret files are refused: the operator\'s configuration sets no secrets.dir';
    const path = resolve(baseDir ?? rules.dir, ref.file);
    if (!inside(rules.dir, path)) return `secretRef.file '${ref.file}' is refused: secret files must be inside the operator's secrets folder`;
    if (rules.forbiddenFiles.some((f) => resolve(f) === path)) return `secretRef.file '${ref.file}' names one of xops' own credentials`;
  }
  return undefined;
}

/** True when `path` is `dir` itself or below it (lexically; resolve symlinks first for a real check). */
export function inside(dir: string, path: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Every secretRef use the rules refuse, as errors at their file:line:col. Pure. */
export function secretUseProblems(uses: readonly SecretUse[], rules: SecretRules): Diagnostic[] {
  const problems: Diagnostic[] = [];
  for (const use of uses) {
    const why = use.notCredential ?? secretRefRefusal(use.ref, rules);
    const path = use.notCredential ? use.path : `${use.path}.secretRef.${use.ref.env !== undefined ? 'env' : 'file'}`;
    if (why) problems.push({ severity: 'error', code: 'secret-refused', address: use.address, path, location: use.location, message: why });
  }
  return problems;
}
