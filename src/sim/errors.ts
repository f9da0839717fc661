/**
 * A XAPI failure: `code` plus string parameters, exactly what goes on the wire as
 * `ErrorDescription` (XML-RPC) or `error.message`/`error.data` (JSON-RPC 2.0).
 */
export class XapiFailure extends Error {
  readonly code: string;
  readonly params: readonly string[];
  constructor(code: string, ...params: (string | number | boolean)[]) {
    super(`${code}(${params.join(', ')})`);
    this.name = 'XapiFailure';
    this.code = code;
    this.params = params.map(String);
  }
  /** The wire form `[code, ...params]`. */
  toArray(): string[] {
    return [this.code, ...this.params];
  }
}

/** Shorthand used by behaviour code: `throw fail('VM_BAD_POWER_STATE', vm, 'halted', 'running')`. */
export function fail(code: string, ...params: (string | number | boolean)[]): XapiFailure {
  return new XapiFailure(code, ...params);
}

/** Turns anything thrown inside a handler into the list that goes on the wire. */
export function toErrorArray(e: unknown): string[] {
  if (e instanceof XapiFailure) return e.toArray();
  const msg = e instanceof Error ? e.message : String(e);
  return ['INTERNAL_ERROR', msg];
}
