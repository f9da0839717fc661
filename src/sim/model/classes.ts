import { RAW_CLASSES, RAW_ENUMS, RAW_RELATIONS } from './classes.generated.js';
import { EXTRA_CLASSES, EXTRA_ENUMS } from './classes.extra.js';

/**
 * One class as emitted by tools/emit-model.py.
 * - `flags`: `e` the class generates events, `d` it lives in the database.
 * - `generated`: the generated object-level messages XAPI dispatches for it (get_record, get_all, ...).
 * - `fields`: `[name, type, qualifier, default?]`; qualifier `w` = RW, `c` = RO/constructor, `r` = RO/runtime;
 *   no default means the field is mandatory in the implicit `create` record.
 * - `messages`: custom messages and the implicit create/destroy: `[name, params, resultType, flags]`, each param
 *   `[name, type, default?]` (a default makes it optional); flags `a` async, `n` no session, `x` removed,
 *   `g` implicit constructor/destructor.
 */
export interface RawClass {
  readonly name: string;
  readonly flags: string;
  readonly generated: readonly string[];
  readonly removed?: readonly string[];
  readonly fields: readonly (readonly [string, string, string] | readonly [string, string, string, unknown])[];
  readonly messages: readonly (readonly [string, readonly (readonly [string, string] | readonly [string, string, unknown])[], string, string])[];
}

/** A parsed XAPI type (the grammar of the datamodel: `VM ref`, `string set`, `(string -> string) map`...). */
export type XType =
  | { readonly k: 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'void' | 'batch' | 'any' }
  | { readonly k: 'enum'; readonly name: string }
  | { readonly k: 'ref'; readonly cls: string }
  | { readonly k: 'record'; readonly cls: string }
  | { readonly k: 'set'; readonly of: XType }
  | { readonly k: 'option'; readonly of: XType }
  | { readonly k: 'map'; readonly key: XType; readonly val: XType };

/** A field of a class: wire name, type, qualifier and the value a new object gets when none is given. */
export interface FieldSpec {
  readonly name: string;
  readonly type: XType;
  readonly typeText: string;
  readonly qualifier: 'RW' | 'RO/constructor' | 'RO/runtime';
  /** True when the implicit `create` record must carry it. */
  readonly required: boolean;
  readonly defaultValue: unknown;
}

/** The kinds of message the dispatcher knows how to run generically. */
export type MessageKind =
  | 'custom'
  | 'get_record'
  | 'get_by_uuid'
  | 'get_by_name_label'
  | 'get_all'
  | 'get_all_records'
  | 'get_all_where'
  | 'get_all_records_where'
  | 'create'
  | 'destroy'
  | 'getter'
  | 'setter'
  | 'map_add'
  | 'map_remove'
  | 'set_add'
  | 'set_remove';

/** One positional parameter (session excluded). */
export interface ParamSpec {
  readonly name: string;
  readonly type: XType;
  readonly optional: boolean;
  readonly defaultValue?: unknown;
}

/** A message as the dispatcher sees it. `wire` is `Class.name`. */
export interface MessageSpec {
  readonly cls: string;
  readonly name: string;
  readonly wire: string;
  readonly kind: MessageKind;
  readonly params: readonly ParamSpec[];
  readonly result: XType;
  readonly session: boolean;
  readonly async: boolean;
  readonly removed: boolean;
  /** For getters, setters and map/set operations: the field concerned. */
  readonly field?: FieldSpec;
}

/** A class of the model, with its fields and every message it answers. */
export interface ClassSpec {
  readonly name: string;
  /** Lower-case name used by events and subscriptions. */
  readonly lname: string;
  readonly generatesEvents: boolean;
  readonly hasGetAll: boolean;
  readonly fields: readonly FieldSpec[];
  readonly fieldByName: ReadonlyMap<string, FieldSpec>;
  readonly messages: ReadonlyMap<string, MessageSpec>;
}

/** One side of a relation: setting `cls.field` (a single ref) keeps `otherCls.otherField` (a ref set) in step. */
export interface RelationSide {
  readonly cls: string;
  readonly field: string;
  readonly otherCls: string;
  readonly otherField: string;
}

const typeCache = new Map<string, XType>();

/** Parses a datamodel type string. Unknown forms become `any` so a model change never crashes the server. */
export function parseType(text: string): XType {
  const hit = typeCache.get(text);
  if (hit) return hit;
  const t = parseTypeUncached(text.trim());
  typeCache.set(text, t);
  return t;
}

function parseTypeUncached(s: string): XType {
  switch (s) {
    case 'string':
    case 'int':
    case 'float':
    case 'bool':
    case 'datetime':
      return { k: s };
    case 'event batch':
      return { k: 'batch' };
    case '':
      return { k: 'void' };
  }
  if (s.endsWith(' map') && s.startsWith('(')) {
    const inner = s.slice(1, -' map'.length).trim().replace(/\)$/, '');
    const arrow = inner.indexOf(' -> ');
    return { k: 'map', key: parseType(inner.slice(0, arrow)), val: parseType(inner.slice(arrow + 4)) };
  }
  if (s.endsWith(' set')) return { k: 'set', of: parseType(s.slice(0, -4)) };
  if (s.endsWith(' option')) return { k: 'option', of: parseType(s.slice(0, -7)) };
  if (s.endsWith(' ref')) return { k: 'ref', cls: s.slice(0, -4) };
  if (s.endsWith(' record')) return { k: 'record', cls: s.slice(0, -7) };
  if (s.startsWith('enum ')) return { k: 'enum', name: s.slice(5) };
  return { k: 'any' };
}

/** The value an absent field of this type holds in XAPI: "", 0, false, [], {}, OpaqueRef:NULL or the epoch. */
export function zeroOf(t: XType): unknown {
  switch (t.k) {
    case 'string':
    case 'enum':
      return '';
    case 'int':
    case 'float':
      return 0;
    case 'bool':
      return false;
    case 'datetime':
      return '19700101T00:00:00Z';
    case 'ref':
      return 'OpaqueRef:NULL';
    case 'set':
      return [];
    case 'map':
    case 'record':
      return {};
    default:
      return '';
  }
}

const GENERATED_KINDS = new Set<string>([
  'get_record',
  'get_by_uuid',
  'get_by_name_label',
  'get_all',
  'get_all_records',
  'get_all_where',
  'get_all_records_where',
]);

function buildClass(raw: RawClass): ClassSpec {
  const fields: FieldSpec[] = raw.fields.map((f) => {
    const type = parseType(f[1]);
    const hasDefault = f.length > 3;
    return {
      name: f[0],
      type,
      typeText: f[1],
      qualifier: f[2] === 'w' ? 'RW' : f[2] === 'c' ? 'RO/constructor' : 'RO/runtime',
      required: !hasDefault && f[2] !== 'r',
      defaultValue: hasDefault ? (f as readonly [string, string, string, unknown])[3] : zeroOf(type),
    };
  });
  const fieldByName = new Map(fields.map((f) => [f.name, f]));
  const messages = new Map<string, MessageSpec>();
  const cls = raw.name;
  const selfRef: XType = { k: 'ref', cls };
  const add = (m: Omit<MessageSpec, 'cls' | 'wire' | 'session' | 'async' | 'removed'> & Partial<MessageSpec>): void => {
    messages.set(m.name, {
      cls,
      wire: `${cls}.${m.name}`,
      session: true,
      async: false,
      removed: false,
      ...m,
    });
  };
  const self: ParamSpec = { name: 'self', type: selfRef, optional: false };
  for (const g of raw.generated) {
    if (!GENERATED_KINDS.has(g)) continue;
    const kind = g as MessageKind;
    const recordT: XType = { k: 'record', cls };
    switch (kind) {
      case 'get_record':
        add({ name: g, kind, params: [self], result: recordT });
        break;
      case 'get_by_uuid':
        add({ name: g, kind, params: [{ name: 'uuid', type: { k: 'string' }, optional: false }], result: selfRef });
        break;
      case 'get_by_name_label':
        add({ name: g, kind, params: [{ name: 'label', type: { k: 'string' }, optional: false }], result: { k: 'set', of: selfRef } });
        break;
      case 'get_all':
        add({ name: g, kind, params: [], result: { k: 'set', of: selfRef } });
        break;
      case 'get_all_records':
        add({ name: g, kind, params: [], result: { k: 'map', key: selfRef, val: recordT } });
        break;
      case 'get_all_where':
        add({ name: g, kind, params: [{ name: 'expr', type: { k: 'string' }, optional: false }], result: { k: 'set', of: selfRef } });
        break;
      case 'get_all_records_where':
        add({
          name: g,
          kind,
          params: [{ name: 'expr', type: { k: 'string' }, optional: false }],
          result: { k: 'map', key: selfRef, val: recordT },
        });
        break;
    }
  }
  const removedFields = new Set(raw.removed ?? []);
  for (const f of fields) {
    add({ name: `get_${f.name}`, kind: 'getter', params: [self], result: f.type, field: f });
    if (f.qualifier !== 'RW') continue;
    const removed = removedFields.has(f.name);
    add({ name: `set_${f.name}`, kind: 'setter', params: [self, { name: 'value', type: f.type, optional: false }], result: { k: 'void' }, field: f, removed });
    if (f.type.k === 'map') {
      add({
        name: `add_to_${f.name}`,
        kind: 'map_add',
        params: [self, { name: 'key', type: f.type.key, optional: false }, { name: 'value', type: f.type.val, optional: false }],
        result: { k: 'void' },
        field: f,
        removed,
      });
      add({
        name: `remove_from_${f.name}`,
        kind: 'map_remove',
        params: [self, { name: 'key', type: f.type.key, optional: false }],
        result: { k: 'void' },
        field: f,
        removed,
      });
    } else if (f.type.k === 'set' && f.type.of.k !== 'ref') {
      const item: ParamSpec = { name: 'value', type: f.type.of, optional: false };
      add({ name: `add_${f.name}`, kind: 'set_add', params: [self, item], result: { k: 'void' }, field: f, removed });
      add({ name: `remove_${f.name}`, kind: 'set_remove', params: [self, item], result: { k: 'void' }, field: f, removed });
    }
  }
  for (const [name, rawParams, result, flags] of raw.messages) {
    const params: ParamSpec[] = rawParams.map((p) =>
      p.length > 2
        ? { name: p[0], type: parseType(p[1]), optional: true, defaultValue: (p as readonly [string, string, unknown])[2] }
        : { name: p[0], type: parseType(p[1]), optional: false },
    );
    const implicit = flags.includes('g');
    add({
      name,
      kind: implicit ? (name === 'create' ? 'create' : 'destroy') : 'custom',
      params,
      result: parseType(result),
      session: !flags.includes('n'),
      async: flags.includes('a'),
      removed: flags.includes('x'),
    });
  }
  return {
    name: cls,
    lname: cls.toLowerCase(),
    generatesEvents: raw.flags.includes('e'),
    hasGetAll: raw.generated.includes('get_all'),
    fields,
    fieldByName,
    messages,
  };
}

/** The whole class model: classes by name (exact and lower-case), enums and relations. */
export interface Model {
  readonly classes: ReadonlyMap<string, ClassSpec>;
  readonly byLowerName: ReadonlyMap<string, ClassSpec>;
  readonly enums: Readonly<Record<string, readonly string[]>>;
  /** Keyed by `Class.field` of the single-ref side. */
  readonly relations: ReadonlyMap<string, RelationSide>;
  /** Keyed by `Class.field` of the set side: the single-ref side that feeds it. */
  readonly reverseSides: ReadonlyMap<string, RelationSide>;
}

let model: Model | undefined;

/** The model, built once from the compact table. */
export function getModel(): Model {
  if (model) return model;
  const classes = new Map<string, ClassSpec>();
  for (const raw of [...RAW_CLASSES, ...EXTRA_CLASSES]) classes.set(raw.name, buildClass(raw));
  const byLowerName = new Map([...classes.values()].map((c) => [c.lname, c]));
  const relations = new Map<string, RelationSide>();
  const reverseSides = new Map<string, RelationSide>();
  for (const [a, af, b, bf] of RAW_RELATIONS) {
    const ac = classes.get(a);
    const bc = classes.get(b);
    if (!ac || !bc) continue;
    const aField = ac.fieldByName.get(af);
    const bField = bc.fieldByName.get(bf);
    if (!aField || !bField) continue;
    // Only one-to-many relations are kept in step; the many-to-many ones involve classes the simulator lacks.
    if (aField.type.k === 'ref' && bField.type.k === 'set') {
      const side = { cls: a, field: af, otherCls: b, otherField: bf };
      relations.set(`${a}.${af}`, side);
      reverseSides.set(`${b}.${bf}`, side);
    } else if (bField.type.k === 'ref' && aField.type.k === 'set') {
      const side = { cls: b, field: bf, otherCls: a, otherField: af };
      relations.set(`${b}.${bf}`, side);
      reverseSides.set(`${a}.${af}`, side);
    }
  }
  model = { classes, byLowerName, enums: { ...RAW_ENUMS, ...EXTRA_ENUMS }, relations, reverseSides };
  return model;
}
