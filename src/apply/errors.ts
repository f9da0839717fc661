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

/** Errors that another attempt cannot fix, so the executor does not retry them. */
export function isPermanent(err: unknown): boolean {
  return err instanceof OwnershipError || err instanceof UnsupportedChangeError || err instanceof ActionTimeoutError;
}
