import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Kind } from '../model/kinds.js';
import * as generated from './validators.generated.js';
import { childPath, pointerToPath } from './paths.js';
import { closest } from './suggest.js';
import type { ParsedDocument } from './yaml.js';

/** A schema problem in one document: the JSON path it concerns and whether to point at the key. */
export interface SchemaProblem {
  path: string;
  message: string;
  /** Point at the key rather than the value (unknown fields). */
  atKey: boolean;
  /** Point at the enclosing object, since the value is missing (required fields). */
  atParent: boolean;
  code: string;
}

/**
 * The kind's validator, generated ahead of time from its schema (`write-validators.ts`), so no
 * schema is compiled at start-up; a test fails when the generated code and the schemas disagree.
 */
function validatorFor(kind: Kind): ValidateFunction {
  const validate = (generated as unknown as Record<string, ValidateFunction | undefined>)[kind];
  if (!validate) throw new Error(`no generated validator for kind ${kind}: run npm run schemas`);
  return validate;
}

const YAML11_BOOLEANS = new Set(['yes', 'no', 'on', 'off', 'y', 'n', 'Yes', 'No', 'On', 'Off', 'YES', 'NO', 'ON', 'OFF', 'Y', 'N']);
/** Plain decimal: the only number form every YAML 1.1 and 1.2 reader agrees on. */
const PLAIN_DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/**
 * Validates one document against its kind's schema. Where the schema expects a string and the
 * operator wrote an unquoted scalar that YAML read as a number, boolean or null (`0x10`, `1e3`,
 * `true`, `012`), the text is kept exactly as written instead (mutating `doc.value`). Numbers that
 * YAML 1.1 and 1.2 read differently (hex, octal, exponents, leading zeros) are refused where a number
 * is expected.
 */
export function checkSchema(kind: Kind, doc: ParsedDocument): SchemaProblem[] {
  const validate = validatorFor(kind);
  if (!validate(doc.value)) {
    const plainByPointer = new Map(doc.plainScalars.map((p) => [p.pointer, p]));
    let coerced = false;
    for (const err of validate.errors ?? []) {
      if (err.keyword !== 'type' || !expects(err, 'string')) continue;
      const plain = plainByPointer.get(err.instancePath);
      if (!plain || err.data === null) continue;
      setAtPointer(doc.value, err.instancePath, plain.text);
      coerced = true;
    }
    if (coerced) validate(doc.value);
  }
  const problems = validate.errors ? describeErrors(validate.errors, doc.value) : [];
  for (const plain of doc.plainScalars) {
    const value = getAtPointer(doc.value, plain.pointer);
    if (typeof value === 'number' && !PLAIN_DECIMAL.test(plain.text)) {
      problems.push({
        path: plain.path,
        message: `write numbers in plain decimal: YAML readers disagree about what '${plain.text}' means`,
        atKey: false,
        atParent: false,
        code: 'yaml-number',
      });
    }
  }
  return problems;
}

function expects(err: ErrorObject, type: string): boolean {
  const wanted = (err.params as { type: string | string[] }).type;
  return Array.isArray(wanted) ? wanted.includes(type) : String(wanted).split(',').includes(type);
}

/**
 * Picks the errors worth showing. For an anyOf/oneOf that failed: when every branch failed only on
 * the value's type, the combinator's own errorMessage says it once in the operator's terms; when a
 * branch matched the type and failed further in (e.g. a secretRef naming both env and file), that
 * branch's errors are the useful ones.
 */
function relevantErrors(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  for (const c of errors) {
    if (c.keyword !== 'anyOf' && c.keyword !== 'oneOf') continue;
    const at = c.instancePath;
    const inside = errors.filter((e) => e !== c && (e.instancePath === at || e.instancePath.startsWith(at + '/')));
    const shallow = (e: ErrorObject) => e.instancePath === at && (e.keyword === 'type' || e.keyword === 'required');
    const deep = inside.filter((e) => !shallow(e) && e.keyword !== c.keyword);
    if (deep.length) {
      drop.add(c);
      for (const e of inside) if (shallow(e)) drop.add(e);
    } else {
      for (const e of inside) drop.add(e);
    }
  }
  return errors.filter((e) => !drop.has(e) && e.keyword !== 'if');
}

function describeErrors(errors: ErrorObject[], root: unknown): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const err of relevantErrors(errors)) {
    const problem = describe(err, pointerToPath(err.instancePath, root));
    const key = `${problem.path}\0${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describe(err: ErrorObject, path: string): SchemaProblem {
  const parent = (err.parentSchema ?? {}) as Record<string, unknown>;
  const base = { path, atKey: false, atParent: false, code: 'schema' };
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      if (field === '<<') {
        return { ...base, path: childPath(path, field), atKey: true, code: 'unknown-field', message: 'YAML merge keys (<<) are not supported: write the fields out (anchors and aliases do work)' };
      }
      const known = Object.keys((parent.properties ?? {}) as object);
      const hint = closest(field, known);
      return {
        ...base,
        path: childPath(path, field),
        atKey: true,
        code: 'unknown-field',
        message: `unknown field '${field}'${hint ? ` (did you mean '${hint}'?)` : known.length ? ` (expected one of: ${known.join(', ')})` : ''}`,
      };
    }
    case 'required': {
      const field = String(params.missingProperty);
      return { ...base, path: childPath(path, field), atParent: true, message: `missing required field '${field}'` };
    }
    case 'type':
      return { ...base, message: typeMessage(err) };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => (v === '' ? "'' (empty)" : String(v)));
      const hint = typeof err.data === 'string' ? closest(err.data, allowed) : undefined;
      return { ...base, message: `${show(err.data)} is not one of: ${allowed.join(', ')}${hint ? ` (did you mean '${hint}'?)` : ''}` };
    }
    case 'const':
      return { ...base, message: `must be '${String(params.allowedValue)}', not ${show(err.data)}` };
    case 'pattern':
      return { ...base, message: `${show(err.data)} ${String(parent.patternErrorMessage ?? `must match ${String(params.pattern)}`)}` };
    case 'anyOf':
    case 'oneOf':
    case 'not':
      return { ...base, message: String(parent.errorMessage ?? err.message) };
    case 'minLength':
      return { ...base, message: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters` };
    case 'minItems':
      return { ...base, message: `needs at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}` };
    case 'uniqueItems':
      return { ...base, message: `has the same item twice (items ${String(params.j)} and ${String(params.i)})` };
    case 'minimum':
    case 'maximum':
      return { ...base, message: `${show(err.data)} ${err.keyword === 'minimum' ? 'is below' : 'is above'} the ${err.keyword} ${String(params.limit)}` };
    default:
      return { ...base, message: err.message ?? `fails ${err.keyword}` };
  }
}

function typeMessage(err: ErrorObject): string {
  const wanted = String((err.params as { type: unknown }).type).split(',');
  const words: Record<string, string> = { string: 'text', integer: 'a whole number', number: 'a number', boolean: 'true or false', object: 'a mapping', array: 'a list', null: 'empty' };
  const expected = wanted.map((t) => words[t] ?? t).join(' or ');
  const data = err.data;
  if (data === null) return `must be ${expected}, but the value is empty`;
  if (wanted.includes('boolean') && typeof data === 'string' && YAML11_BOOLEANS.has(data)) {
    return `must be true or false: YAML 1.2 reads '${data}' as text, not a boolean`;
  }
  if ((wanted.includes('integer') || wanted.includes('number')) && typeof data === 'string' && /^-?[0-9]+(\.[0-9]+)?$/.test(data)) {
    return `must be ${expected}: write ${data} without quotes`;
  }
  if (wanted.includes('integer') && typeof data === 'number') return `${data} is not a whole number`;
  return `must be ${expected}, not ${describeValue(data)}`;
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `text '${v}'`;
  return String(v);
}

function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v !== null && typeof v === 'object') return describeValue(v);
  return String(v);
}

function segments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAtPointer(root: unknown, pointer: string): unknown {
  let node = root;
  for (const seg of segments(pointer)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return node;
}

function setAtPointer(root: unknown, pointer: string, value: unknown): void {
  const segs = segments(pointer);
  const last = segs.pop();
  const parent = getAtPointer(root, segs.length ? '/' + segs.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/') : '');
  if (last !== undefined && parent !== null && typeof parent === 'object') (parent as Record<string, unknown>)[last] = value;
}
