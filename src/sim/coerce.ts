import { fail } from './errors.js';
import type { Model, XType } from './model/classes.js';

/**
 * Brings a decoded parameter to its declared type. XML-RPC clients send ints as strings (XAPI's own encoding) or
 * as <i4>/<int>, JSON clients as numbers or strings; both are accepted, as XAPI's int64_of_rpc does. A value that
 * cannot be converted fails with INTERNAL_ERROR, which is what XAPI's decoder surfaces.
 */
export function coerce(model: Model, t: XType, v: unknown, where: string): unknown {
  switch (t.k) {
    case 'int': {
      if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
      if (typeof v === 'string' && /^[+-]?\d+$/.test(v.trim())) return Number(v.trim());
      throw typeError('int', v, where);
    }
    case 'float': {
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
      throw typeError('float', v, where);
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw typeError('bool', v, where);
    case 'string':
    case 'ref':
    case 'datetime':
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
      throw typeError(t.k, v, where);
    case 'enum': {
      const s = typeof v === 'string' ? v : String(v);
      const values = model.enums[t.name];
      if (values && !values.includes(s)) {
        // Enum values are matched case-insensitively by XAPI's unmarshaller.
        const hit = values.find((x) => x.toLowerCase() === s.toLowerCase());
        if (hit === undefined) throw fail('INVALID_VALUE', where, s);
        return hit;
      }
      return s;
    }
    case 'set':
      if (!Array.isArray(v)) throw typeError('set', v, where);
      return v.map((x) => coerce(model, t.of, x, where));
    case 'map': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError('map', v, where);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = coerce(model, t.val, x, where);
      return out;
    }
    case 'record': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError('struct', v, where);
      const cls = model.classes.get(t.cls);
      if (!cls) return v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const f = cls.fieldByName.get(k);
        out[k] = f ? coerce(model, f.type, x, `${t.cls}.${k}`) : x;
      }
      return out;
    }
    default:
      return v;
  }
}

function typeError(expected: string, v: unknown, where: string): Error {
  return fail('INTERNAL_ERROR', `Expected ${expected} for ${where}, got ${JSON.stringify(v)}`);
}
