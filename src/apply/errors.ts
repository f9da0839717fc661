/**
 * A runtime failure while applying one action: carries the resource address, the pool object
 * involved (when known) and the underlying cause (usually an XapiError).
 */
export class ApplyError extends Error {
  override name = 'ApplyError';
  readonly address: string;
  readonly object?: string;
  constructor(address: string, message: string, options?: { cause?: unknown; object?: string }) {
    super(`${address}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.address = address;
    this.object = options?.object;
  }
}

/**
 * Apply refused to touch an object it does not own: the ownership mark was missing or named
 * another resource or repository when the object was re-read just before the change. Never retried.
 */
export class OwnershipError extends ApplyError {
  override name = 'OwnershipError';
}

/** The action cannot be carried out as planned (unknown field path, missing detail); never retried. */
export class UnsupportedChangeError extends ApplyError {
  override name = 'UnsupportedChangeError';
}

/** The action ran past its deadline (ApplyOptions.actionTimeoutMs); its XAPI tasks were cancelled. Never retried. */
export class ActionTimeoutError extends ApplyError {
  override name = 'ActionTimeoutError';
}

/**
 * A create gave up for a reason that will not fix itself (capacity, invalid configuration) and
 * removed what it had made under its pending name. Never retried: the operator must change the
 * manifest or the pool.
 */
export class CreateAbandonedError extends ApplyError {
  override name = 'CreateAbandonedError';
}

/**
 * XAPI failures another attempt will not fix: the pool lacks the capacity (memory, disk space) or
 * refuses the configuration. `SR_BACKEND_FAILURE_44` is the storage manager's "insufficient space"
 * (SRNoSpace) and `SR_BACKEND_FAILURE_79` its "VDI Invalid size" (VDISize), both in xapi-project/sm
 * drivers/XE_SR_ERRORCODES.xml; other backend failures may pass.
 */
const WONT_FIX_ITSELF = new Set([
  'HOST_NOT_ENOUGH_FREE_MEMORY', 'SR_FULL', 'OUT_OF_SPACE', 'PROVISION_FAILED_OUT_OF_SPACE', 'SR_BACKEND_FAILURE_44', 'SR_BACKEND_FAILURE_79',
  'SR_SOURCE_SPACE_INSUFFICIENT', 'VM_MEMORY_SIZE_TOO_LOW', 'MEMORY_CONSTRAINT_VIOLATION', 'MEMORY_CONSTRAINT_VIOLATION_ORDER',
  'MEMORY_CONSTRAINT_VIOLATION_MAXPIN', 'VM_TOO_MANY_VCPUS', 'VM_NO_VCPUS', 'VCPU_MAX_NOT_CORES_PER_SOCKET_MULTIPLE',
  'VALUE_NOT_SUPPORTED', 'INVALID_VALUE', 'VM_REQUIRES_SR', 'VM_REQUIRES_NETWORK',
]);

/** True for an XAPI failure (possibly the cause of an ApplyError) that another attempt will not fix. */
export function wontFixItself(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'XapiError' && typeof code === 'string') return WONT_FIX_ITSELF.has(code);
  }
  return false;
}

/**
 * A started VM whose guest did not become ready (readiness.waitForIP) within its timeout: the
 * action already waited the whole timeout, so it is not retried.
 */
export class NotReadyError extends ApplyError {
  override name = 'NotReadyError';
}

/**
 * A VM a rollout rebooted did not come back healthy (guest metrics, readiness address), or did not stay
 * so for `healthyAfter`: the rollout halts here. Never retried: the change itself went through.
 */
export class UnhealthyError extends ApplyError {
  override name = 'UnhealthyError';
}

/** Errors that another attempt cannot fix, so the executor does not retry them. */
export function isPermanent(err: unknown): boolean {
  return err instanceof NotReadyError || err instanceof UnhealthyError || err instanceof OwnershipError || err instanceof UnsupportedChangeError || err instanceof ActionTimeoutError || err instanceof CreateAbandonedError;
}
