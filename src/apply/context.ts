import type { XapiCaller } from '../xapi/caller.js';
import type { SecretSource } from '../secrets/index.js';
import type { Lookup } from './lookup.js';

/** The slice of a pino logger apply writes to (pino's own Logger satisfies it). */
export interface ApplyLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** A logger that drops everything, for library callers and tests that do not care. */
export const silentLogger: ApplyLogger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * Everything a per-kind applier may use while carrying out one action. Built once per apply run;
 * `lookup` caches only what does not change during a run (the pool ref, the hosts).
 */
export interface ApplyContext {
  caller: XapiCaller;
  /**
   * Repository identity written as `other_config["xops.repo"]` next to the ownership mark. Undefined:
   * no repo key is written and marks from any repository count (as the planner does without one).
   */
  repo: string | undefined;
  secrets: SecretSource;
  log: ApplyLogger;
  lookup: Lookup;
}
