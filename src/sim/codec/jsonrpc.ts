import { DbObject } from '../database.js';

/** Raised for a body that is not a usable JSON-RPC request; the server answers HTTP 500, as XAPI does. */
export class JsonRequestError extends Error {}

/** A parsed JSON-RPC request. `version` decides the reply envelope. */
export interface JsonRequest {
  readonly method: string;
  readonly params: unknown[];
  readonly id: string | number;
  readonly version: '1.0' | '2.0';
}

/**
 * Parses a JSON-RPC 1.0 or 2.0 request. A missing method or a null/missing id (a notification) is refused, as
 * is an id that is neither a string nor an integer. In 2.0, absent params are `[]` and an object is one struct.
 */
export function parseJsonRequest(body: string): JsonRequest {
  let req: unknown;
  try {
    req = JSON.parse(body);
  } catch {
    throw new JsonRequestError('invalid JSON');
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new JsonRequestError('not an object');
  const r = req as Record<string, unknown>;
  if (typeof r.method !== 'string') throw new JsonRequestError('no method');
  const id = r.id;
  if (!(typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)))) throw new JsonRequestError('bad id');
  const version = r.jsonrpc === '2.0' ? '2.0' : '1.0';
  let params: unknown[];
  if (r.params === undefined && version === '2.0') params = [];
  else if (Array.isArray(r.params)) params = r.params;
  else if (r.params !== null && typeof r.params === 'object' && version === '2.0') params = [r.params];
  else throw new JsonRequestError('bad params');
  return { method: r.method, params, id, version };
}

/** JSON text for a result value; records held by the database are serialised once per version. */
export function toJson(v: unknown): string {
  if (v instanceof DbObject) {
    if (v.jsonVer !== v.ver) {
      v.json = JSON.stringify(v.rec);
      v.jsonVer = v.ver;
    }
    return v.json;
  }
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + toJson(v[i]);
    return s + ']';
  }
  if (v !== null && typeof v === 'object') {
    let s = '{';
    let first = true;
    for (const k in v as Record<string, unknown>) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue;
      s += (first ? '' : ',') + JSON.stringify(k) + ':' + toJson(x);
      first = false;
    }
    return s + '}';
  }
  if (v === undefined) return '""';
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}

/** The reply envelope for `version`: 1.0 `{result, error: null, id}`, 2.0 `{jsonrpc, result, id}`. */
export function jsonSuccess(req: Pick<JsonRequest, 'id' | 'version'>, resultJson: string): string {
  const id = JSON.stringify(req.id);
  return req.version === '2.0'
    ? `{"jsonrpc":"2.0","result":${resultJson},"id":${id}}`
    : `{"result":${resultJson},"error":null,"id":${id}}`;
}

/** Failure: 1.0 `error: [code, ...params]`; 2.0 `error: {code: 1, message: CODE, data: [params]}`. */
export function jsonFailure(req: Pick<JsonRequest, 'id' | 'version'>, error: readonly string[], method = ''): string {
  const id = JSON.stringify(req.id);
  if (req.version === '2.0' && method !== 'system.listMethods') {
    const [code, ...data] = error;
    return `{"jsonrpc":"2.0","error":${JSON.stringify({ code: 1, message: code, data })},"id":${id}}`;
  }
  return req.version === '2.0'
    ? `{"jsonrpc":"2.0","error":${JSON.stringify(error)},"id":${id}}`
    : `{"result":null,"error":${JSON.stringify(error)},"id":${id}}`;
}
