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

/**
 * The time apply waits by: `rollout.healthyAfter` is a sleep on this clock, so tests (and the
 * simulator's own clock) decide when it ends instead of a wall-clock race.
 */
export interface ApplyClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves once `ms` have passed on this clock; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The process clock. */
export const systemApplyClock: ApplyClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** What a kind's health check needs beyond the context: how long to stay healthy, on which clock. */
export interface HealthWait {
  /** Milliseconds the object must stay healthy once it is. */
  healthyAfterMs: number;
  clock: ApplyClock;
  /** Called once the object is first healthy, as the `healthyAfter` wait begins. */
  onHealthy?(): void;
  signal?: AbortSignal;
}
