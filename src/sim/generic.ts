import type { Call, Handler } from './core.js';
import type { DbObject, SimDatabase } from './database.js';
import { fail } from './errors.js';
import type { ClassSpec, FieldSpec, MessageSpec } from './model/classes.js';

/** The generated messages every class answers (get_record, get_<field>, set_<field>, add_to_<map>, ...). */
export function genericHandler(spec: MessageSpec): Handler | undefined {
  const cls = spec.cls;
  const f = spec.field;
  switch (spec.kind) {
    case 'get_record':
      return (c) => c.db.expect(cls, c.args[0]);
    case 'get_by_uuid':
      return (c) => {
        const ref = c.db.refByUuid(cls, String(c.args[0]));
        if (!ref) throw fail('UUID_INVALID', cls, String(c.args[0]));
        return ref;
      };
    case 'get_by_name_label':
      return (c) => c.db.findByName(cls, String(c.args[0])).map((o) => o.ref);
    case 'get_all':
      return (c) => [...c.db.all(cls)].map((o) => o.ref);
    case 'get_all_records':
      return (c) => allRecords(c.db, cls);
    case 'get_all_where':
      return (c) => {
        const pred = compileWhere(String(c.args[0]));
        return [...c.db.all(cls)].filter((o) => pred(o)).map((o) => o.ref);
      };
    case 'get_all_records_where':
      return (c) => {
        const pred = compileWhere(String(c.args[0]));
        const out: Record<string, DbObject> = {};
        for (const o of c.db.all(cls)) if (pred(o)) out[o.ref] = o;
        return out;
      };
    case 'getter':
      return (c) => c.db.expect(cls, c.args[0]).rec[f!.name];
    case 'setter':
      return (c) => setField(c, f!);
    case 'map_add':
      return (c) => mapAdd(c, f!);
    case 'map_remove':
      return (c) => mapRemove(c, f!);
    case 'set_add':
      return (c) => {
        const o = c.db.expect(cls, c.args[0]);
        const v = c.args[1];
        if (!(o.rec[f!.name] as unknown[]).includes(v)) c.db.mutate(o.ref, f!.name, (s: unknown[]) => s.push(v));
      };
    case 'set_remove':
      return (c) => {
        const o = c.db.expect(cls, c.args[0]);
        const v = c.args[1];
        if ((o.rec[f!.name] as unknown[]).includes(v)) {
          c.db.mutate(o.ref, f!.name, (s: unknown[]) => s.splice(s.indexOf(v), 1));
        }
      };
    case 'create':
      return (c) => createFromRecord(c, c.db.classOf(cls), c.args[0] as Record<string, unknown>);
    case 'destroy':
      return (c) => {
        c.db.destroy(c.db.expect(cls, c.args[0]).ref);
      };
    default:
      return undefined;
  }
}

/**
 * Custom messages that are field accessors in disguise (`VM.set_other_config`, `VM.add_to_platform`, ...:
 * read-only in the model but with hand-written setters of the same names) behave like the generated ones.
 */
export function accessorFallback(spec: MessageSpec, cls: ClassSpec): Handler | undefined {
  const m = /^(set|add_to|remove_from)_(.+)$/.exec(spec.name);
  if (!m) return undefined;
  const f = cls.fieldByName.get(m[2]!);
  if (!f) return undefined;
  if (m[1] === 'set' && spec.params.length === 2) return (c) => setField(c, f);
  if (m[1] === 'add_to' && f.type.k === 'map' && spec.params.length === 3) return (c) => mapAdd(c, f);
  if (m[1] === 'remove_from' && f.type.k === 'map' && spec.params.length === 2) return (c) => mapRemove(c, f);
  return undefined;
}

export function allRecords(db: SimDatabase, cls: string): Record<string, DbObject> {
  const out: Record<string, DbObject> = {};
  for (const o of db.all(cls)) out[o.ref] = o;
  return out;
}

function setField(c: Call, f: FieldSpec): void {
  const o = c.db.expect(c.spec.cls, c.args[0]);
  const v = c.args[1];
  if (f.type.k === 'ref' && typeof v === 'string' && v !== 'OpaqueRef:NULL' && c.db.get(v)?.cls.name !== f.type.cls) {
    // XAPI checks the referenced object exists when a ref field is written.
    throw fail('HANDLE_INVALID', f.type.cls, v);
  }
  c.db.set(o.ref, f.name, Array.isArray(v) ? v.slice() : v !== null && typeof v === 'object' ? { ...v } : v);
}

function mapAdd(c: Call, f: FieldSpec): void {
  const o = c.db.expect(c.spec.cls, c.args[0]);
  const key = String(c.args[1]);
  const map = o.rec[f.name] as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(map, key)) throw fail('MAP_DUPLICATE_KEY', c.spec.cls, f.name, o.ref, key);
  c.db.mutate(o.ref, f.name, (m: Record<string, unknown>) => {
    m[key] = c.args[2];
  });
}

function mapRemove(c: Call, f: FieldSpec): void {
  const o = c.db.expect(c.spec.cls, c.args[0]);
  const key = String(c.args[1]);
  const map = o.rec[f.name] as Record<string, unknown>;
  if (!Object.prototype.hasOwnProperty.call(map, key)) return;
  c.db.mutate(o.ref, f.name, (m: Record<string, unknown>) => {
    delete m[key];
  });
}

/**
 * The implicit constructor: only RW and RO/constructor fields are taken from the record; a missing mandatory one
 * fails the way XAPI's dispatcher does (INTERNAL_ERROR naming the field). Referenced objects must exist.
 */
export function createFromRecord(c: Call, cls: ClassSpec, record: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return c.db.create(cls.name, { ...constructorFields(c.db, cls, record), ...extra });
}

/** Checks and extracts the constructor fields of `record` (see createFromRecord). */
export function constructorFields(db: SimDatabase, cls: ClassSpec, record: Record<string, unknown>): Record<string, unknown> {
  if (record === null || typeof record !== 'object') throw fail('INTERNAL_ERROR', `${cls.name}.create expects a struct`);
  const fields: Record<string, unknown> = {};
  for (const f of cls.fields) {
    if (f.qualifier === 'RO/runtime') continue;
    const v = record[f.name];
    if (v === undefined) {
      if (f.required) throw fail('INTERNAL_ERROR', `Server_helpers.Dispatcher_FieldNotFound("${f.name}")`);
      continue;
    }
    if (f.type.k === 'ref' && v !== 'OpaqueRef:NULL' && db.get(String(v))?.cls.name !== f.type.cls) {
      throw fail('HANDLE_INVALID', f.type.cls, String(v));
    }
    fields[f.name] = v;
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------------------------
// The *_where filter language: field "<db name>" = "<literal>", and/or/not, brackets, true/false.
// ---------------------------------------------------------------------------------------------------------------

type Pred = (o: DbObject) => boolean;

function compileWhere(expr: string): Pred {
  const toks = expr.match(/"(?:[^"\\]|\\.)*"|\(|\)|=|[A-Za-z_]+/g) ?? [];
  let i = 0;
  const bad = (): never => {
    throw fail('INTERNAL_ERROR', `Invalid expression: ${expr}`);
  };
  const unq = (t: string | undefined): string => (t && t.startsWith('"') ? JSON.parse(t) : bad());
  const primary = (): Pred => {
    const t = toks[i++];
    if (t === '(') {
      const p = or();
      if (toks[i++] !== ')') bad();
      return p;
    }
    if (t === 'not') {
      const p = primary();
      return (o) => !p(o);
    }
    if (t === 'true') return () => true;
    if (t === 'false') return () => false;
    if (t === 'field') {
      const name = unq(toks[i++]).replace(/__/g, '_');
      if (toks[i++] !== '=') bad();
      const lit = unq(toks[i++]);
      return (o) => {
        const v = o.rec[name];
        return v !== undefined && String(v) === lit;
      };
    }
    return bad();
  };
  const and = (): Pred => {
    let p = primary();
    while (toks[i] === 'and') {
      i++;
      const l = p;
      const r = primary();
      p = (o) => l(o) && r(o);
    }
    return p;
  };
  const or = (): Pred => {
    let p = and();
    while (toks[i] === 'or') {
      i++;
      const l = p;
      const r = and();
      p = (o) => l(o) || r(o);
    }
    return p;
  };
  const p = or();
  if (i !== toks.length) bad();
  return p;
}
