import { parseEvents, getScalarValue, YAMLException, EVENT_ID, SCALAR_STYLE } from 'js-yaml';
import type { Event, ScalarEvent } from 'js-yaml';
import type { Diagnostic, SourceLocation } from '../model/diagnostics.js';
import { childPath } from './paths.js';

/**
 * One YAML document with where each of its values was written. Built from js-yaml's event stream
 * (not `load`) so that every node keeps its position, duplicate keys are reported rather than thrown,
 * and alias expansion is counted.
 */
export interface ParsedDocument {
  value: unknown;
  /** Where the document's content starts. */
  start: SourceLocation;
  /** JSON path → where its value starts (paths inside an alias expansion are absent: look up a parent). */
  locations: Map<string, SourceLocation>;
  /** JSON path → where its mapping key was written. */
  keyLocations: Map<string, SourceLocation>;
  /**
   * Plain (unquoted) scalars that YAML resolved to something other than a string, with their text
   * as written: lets the loader keep `0x10`, `1e3` or `true` as written where a string is expected.
   */
  plainScalars: PlainScalar[];
  /** Problems inside this document (duplicate keys, bad tags...), so the loader can name the document. */
  diagnostics: Diagnostic[];
}

/** A plain scalar that did not resolve to a string, at `path` (and JSON Pointer `pointer`). */
export interface PlainScalar {
  path: string;
  pointer: string;
  text: string;
}

/** Caps that keep hostile YAML from eating memory or time. */
export interface YamlLimits {
  /**
   * Nodes per file, over all its documents, every alias expansion counted ("billion laughs" stops
   * here): a file that passes it is refused whole, none of its documents is loaded.
   */
  maxNodes: number;
  maxDepth: number;
  /** Shared by every file of one commit, so many files cannot add up to what one may not hold. */
  budget?: NodeBudget;
}

/** Nodes a whole commit may hold (`limit`), and how many the files parsed so far used. */
export interface NodeBudget {
  readonly limit: number;
  used: number;
}

export interface ParseResult {
  documents: ParsedDocument[];
  diagnostics: Diagnostic[];
}

/** Maps offsets in a text to 1-based line:col. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  at(file: string, offset: number): SourceLocation {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file, line: lo + 1, col: offset - this.starts[lo] + 1 };
  }
}

const YAML_TAG_PREFIX = 'tag:yaml.org,2002:';

/** Thrown inside the composer to abandon one document (its diagnostic is already recorded). */
class AbandonDocument extends Error {}

/** Thrown inside the composer to refuse the whole file (a node cap was passed). */
class RefuseFile extends Error {
  readonly diagnostic: Diagnostic;
  constructor(diagnostic: Diagnostic) {
    super(diagnostic.message);
    this.diagnostic = diagnostic;
  }
}

interface Anchored {
  value: unknown;
  size: number;
}

/** Parses every document of one file. Never throws: problems come back as diagnostics. */
export function parseYaml(text: string, file: string, limits: YamlLimits): ParseResult {
  const lines = new LineIndex(text);
  const diagnostics: Diagnostic[] = [];
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file, maxDepth: limits.maxDepth });
  } catch (err) {
    if (err instanceof YAMLException) {
      const mark = err.mark;
      diagnostics.push({
        severity: 'error',
        code: 'yaml-syntax',
        message: `YAML syntax: ${err.reason}`,
        location: mark ? { file, line: mark.line + 1, col: mark.column + 1 } : { file, line: 1, col: 1 },
      });
      return { documents: [], diagnostics };
    }
    throw err;
  }
  const documents: ParsedDocument[] = [];
  const composer = new Composer(text, file, events, lines, limits, diagnostics);
  try {
    for (const doc of composer.documents()) documents.push(doc);
  } catch (err) {
    if (!(err instanceof RefuseFile)) throw err;
    // What the file's documents reported is moot: the file is refused whole.
    return { documents: [], diagnostics: [err.diagnostic] };
  }
  return { documents, diagnostics };
}

class Composer {
  private i = 0;
  private anchors = new Map<string, Anchored>();
  private nodes = 0;
  private doc!: ParsedDocument;
  /** Where an empty value (`key:` with nothing after it) is reported: at its key. */
  private emptyValueOffset = 0;
  private readonly text: string;
  private readonly file: string;
  private readonly events: Event[];
  private readonly lines: LineIndex;
  private readonly limits: YamlLimits;
  private readonly diagnostics: Diagnostic[];

  constructor(text: string, file: string, events: Event[], lines: LineIndex, limits: YamlLimits, diagnostics: Diagnostic[]) {
    this.text = text;
    this.file = file;
    this.events = events;
    this.lines = lines;
    this.limits = limits;
    this.diagnostics = diagnostics;
  }

  *documents(): Generator<ParsedDocument> {
    const { events } = this;
    while (this.i < events.length) {
      const ev = events[this.i++];
      if (ev.type !== EVENT_ID.DOCUMENT) continue;
      this.anchors = new Map();
      const first = events[this.i];
      if (!first || first.type === EVENT_ID.POP) {
        this.i++; // empty document (a stray `---` or a comment-only file)
        continue;
      }
      this.doc = {
        value: undefined,
        start: this.loc(this.offsetOf(first)),
        locations: new Map(),
        keyLocations: new Map(),
        plainScalars: [],
        diagnostics: [],
      };
      try {
        const { value } = this.node('', '');
        this.doc.value = value;
        this.i++; // the document's POP
        if (value !== null) yield this.doc;
        else this.diagnostics.push(...this.doc.diagnostics);
      } catch (err) {
        if (!(err instanceof AbandonDocument)) throw err;
        // An abandoned document is not loaded, so its problem is reported at file level.
        this.diagnostics.push(...this.doc.diagnostics);
        this.skipToDocumentEnd();
      }
    }
  }

  private skipToDocumentEnd(): void {
    let depth = 0;
    while (this.i < this.events.length) {
      const ev = this.events[this.i++];
      if (ev.type === EVENT_ID.SEQUENCE || ev.type === EVENT_ID.MAPPING) depth++;
      else if (ev.type === EVENT_ID.POP) {
        if (depth === 0) return;
        depth--;
      }
    }
  }

  private offsetOf(ev: Event): number {
    switch (ev.type) {
      case EVENT_ID.SCALAR:
        return scalarStart(ev, this.emptyValueOffset);
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE:
        return ev.anchorStart >= 0 ? ev.anchorStart : ev.tagStart >= 0 ? ev.tagStart : ev.start;
      case EVENT_ID.ALIAS:
        return ev.anchorStart - 1;
      default:
        return 0;
    }
  }

  private loc(offset: number): SourceLocation {
    return this.lines.at(this.file, Math.max(0, offset));
  }

  private error(code: string, message: string, offset: number, path?: string): void {
    (this.doc?.diagnostics ?? this.diagnostics).push({ severity: 'error', code, message, location: this.loc(offset), ...(path ? { path } : {}) });
  }

  /** Counts nodes against the file's cap and the commit's budget, before they cost memory. */
  private count(n: number, offset: number): void {
    this.nodes += n;
    const refuse = (message: string) => {
      throw new RefuseFile({ severity: 'error', code: 'yaml-too-large', message, location: this.loc(offset) });
    };
    if (this.nodes > this.limits.maxNodes) {
      refuse(`file expands to more than ${this.limits.maxNodes} YAML nodes (all documents, aliases included); refusing to load it`);
    }
    const budget = this.limits.budget;
    if (budget) {
      budget.used += n;
      if (budget.used > budget.limit) {
        refuse(`manifests expand to more than ${budget.limit} YAML nodes over the commit (aliases included); refusing to load this file and the rest`);
      }
    }
  }

  /** Composes the node at the cursor; returns its value and its expanded size in nodes. */
  private node(path: string, pointer: string): Anchored {
    const ev = this.events[this.i++];
    const offset = this.offsetOf(ev);
    let result: Anchored;
    switch (ev.type) {
      case EVENT_ID.ALIAS: {
        const name = this.text.slice(ev.anchorStart, ev.anchorEnd);
        const target = this.anchors.get(name);
        if (!target) {
          this.error('yaml-syntax', `YAML: unknown alias *${name}`, offset, path);
          result = { value: null, size: 1 };
        } else {
          // Count before copying, so an alias bomb is refused before it costs memory.
          this.count(target.size, offset);
          result = { value: structuredClone(target.value), size: target.size };
        }
        this.doc.locations.set(path, this.loc(offset));
        return result;
      }
      case EVENT_ID.SCALAR:
        this.count(1, offset);
        result = { value: this.scalar(ev, path, pointer, offset), size: 1 };
        break;
      case EVENT_ID.SEQUENCE: {
        this.count(1, offset);
        this.checkCollectionTag(ev.tagStart, ev.tagEnd, 'seq', offset, path);
        const items: unknown[] = [];
        let size = 1;
        while (this.events[this.i].type !== EVENT_ID.POP) {
          const child = this.node(childPath(path, items.length), `${pointer}/${items.length}`);
          items.push(child.value);
          size += child.size;
        }
        this.i++;
        result = { value: items, size };
        break;
      }
      case EVENT_ID.MAPPING: {
        this.count(1, offset);
        this.checkCollectionTag(ev.tagStart, ev.tagEnd, 'map', offset, path);
        const obj: Record<string, unknown> = {};
        let size = 1;
        while (this.events[this.i].type !== EVENT_ID.POP) {
          const keyEv = this.events[this.i];
          const keyOffset = this.offsetOf(keyEv);
          let key: string | undefined;
          if (keyEv.type === EVENT_ID.SCALAR) {
            this.i++;
            key = keyEv.valueStart < 0 ? '' : getScalarValue(this.text, keyEv);
          } else {
            this.error('yaml-key', 'YAML: only plain text keys are allowed here', keyOffset, path);
            this.skipNode();
          }
          const valuePath = key === undefined ? path : childPath(path, key);
          if (key !== undefined && Object.hasOwn(obj, key)) {
            const first = this.doc.keyLocations.get(valuePath);
            this.error(
              'duplicate-key',
              `duplicate key '${key}'${first ? ` (first at line ${first.line})` : ''}`,
              keyOffset,
              valuePath,
            );
            this.skipNode();
            continue;
          }
          if (key !== undefined) this.doc.keyLocations.set(valuePath, this.loc(keyOffset));
          this.emptyValueOffset = keyOffset;
          const child = this.node(valuePath, key === undefined ? pointer : `${pointer}/${escapePointer(key)}`);
          size += child.size;
          if (key === undefined) continue;
          // A `__proto__` key must become data, never the object's prototype.
          if (key === '__proto__') Object.defineProperty(obj, key, { value: child.value, enumerable: true, writable: true, configurable: true });
          else obj[key] = child.value;
        }
        this.i++;
        result = { value: obj, size };
        break;
      }
      default:
        this.error('yaml-syntax', 'YAML: unexpected structure', offset, path);
        throw new AbandonDocument();
    }
    if (!this.doc.locations.has(path)) this.doc.locations.set(path, this.loc(offset));
    const anchorStart = ev.anchorStart;
    if (anchorStart >= 0) this.anchors.set(this.text.slice(anchorStart, ev.anchorEnd), result);
    return result;
  }

  /** Skips the node at the cursor (used for a duplicate key's value). */
  private skipNode(): void {
    const ev = this.events[this.i++];
    if (ev.type !== EVENT_ID.SEQUENCE && ev.type !== EVENT_ID.MAPPING) return;
    let depth = 1;
    while (depth > 0) {
      const next = this.events[this.i++];
      if (next.type === EVENT_ID.SEQUENCE || next.type === EVENT_ID.MAPPING) depth++;
      else if (next.type === EVENT_ID.POP) depth--;
    }
  }

  private checkCollectionTag(tagStart: number, tagEnd: number, expected: 'seq' | 'map', offset: number, path: string): void {
    if (tagStart < 0) return;
    const tag = normaliseTag(this.text.slice(tagStart, tagEnd));
    if (tag !== expected) this.error('yaml-tag', `YAML: unsupported tag ${this.text.slice(tagStart, tagEnd)}`, offset, path);
  }

  private scalar(ev: ScalarEvent, path: string, pointer: string, offset: number): unknown {
    const text = ev.valueStart < 0 ? '' : getScalarValue(this.text, ev);
    if (ev.tagStart >= 0) {
      const written = this.text.slice(ev.tagStart, ev.tagEnd);
      const value = resolveTagged(normaliseTag(written), text);
      if (value === NOT_VALID) {
        this.error('yaml-tag', `YAML: '${text}' is not a valid ${written}`, offset, path);
        return text;
      }
      if (value === UNSUPPORTED) {
        this.error('yaml-tag', `YAML: unsupported tag ${written}`, offset, path);
        return text;
      }
      return value;
    }
    if (ev.style !== SCALAR_STYLE.PLAIN) return text;
    const value = resolvePlain(text);
    if (typeof value !== 'string') this.doc.plainScalars.push({ path, pointer, text });
    return value;
  }
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function scalarStart(ev: ScalarEvent, emptyValueOffset: number): number {
  if (ev.anchorStart >= 0) return ev.anchorStart - 1;
  if (ev.tagStart >= 0) return ev.tagStart;
  if (ev.valueStart < 0) return emptyValueOffset;
  // Point at the opening quote, where the operator sees the value begin.
  if (ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED) return ev.valueStart - 1;
  return ev.valueStart;
}

function normaliseTag(written: string): string {
  if (written.startsWith('!!')) return written.slice(2);
  if (written.startsWith(`!<${YAML_TAG_PREFIX}`)) return written.slice(YAML_TAG_PREFIX.length + 2, -1);
  return written;
}

const NOT_VALID = Symbol('not valid');
const UNSUPPORTED = Symbol('unsupported');

function resolveTagged(tag: string, text: string): unknown {
  switch (tag) {
    case 'str':
      return text;
    case 'int':
    case 'float': {
      const value = resolvePlain(text);
      return typeof value === 'number' ? value : NOT_VALID;
    }
    case 'bool': {
      const value = resolvePlain(text);
      return typeof value === 'boolean' ? value : NOT_VALID;
    }
    case 'null':
      return resolvePlain(text) === null ? null : NOT_VALID;
    default:
      return UNSUPPORTED;
  }
}

const NULL_FORMS = new Set(['', '~', 'null', 'Null', 'NULL']);
const TRUE_FORMS = new Set(['true', 'True', 'TRUE']);
const FALSE_FORMS = new Set(['false', 'False', 'FALSE']);
const DECIMAL_INT = /^[-+]?[0-9]+$/;
const OCTAL_INT = /^0o[0-7]+$/;
const HEX_INT = /^0x[0-9a-fA-F]+$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INFINITY = /^[-+]?\.(inf|Inf|INF)$/;
const NAN = /^\.(nan|NaN|NAN)$/;

/**
 * YAML 1.2 core-schema resolution of a plain scalar. Unlike YAML 1.1, `yes`, `no`, `on`, `off`,
 * `y` and `n` stay strings, and `012` is twelve (not octal ten).
 */
export function resolvePlain(text: string): unknown {
  if (NULL_FORMS.has(text)) return null;
  if (TRUE_FORMS.has(text)) return true;
  if (FALSE_FORMS.has(text)) return false;
  if (DECIMAL_INT.test(text)) return Number.parseInt(text, 10);
  if (OCTAL_INT.test(text)) return Number.parseInt(text.slice(2), 8);
  if (HEX_INT.test(text)) return Number.parseInt(text.slice(2), 16);
  if (FLOAT.test(text)) return Number.parseFloat(text);
  if (INFINITY.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (NAN.test(text)) return Number.NaN;
  return text;
}
