import { DbObject } from '../database.js';
import type { Model, XType } from '../model/classes.js';
import type { EventBatch } from '../events.js';

// ---------------------------------------------------------------------------------------------------------------
// Encoding. Type-directed, because XAPI's wire form depends on the declared type (an int is an untyped string, a
// float a <double>), which a JS number alone cannot tell. Records are cached per object version: get_all_records
// on a large pool then costs little more than string concatenation.
// ---------------------------------------------------------------------------------------------------------------

const NEEDS_ESCAPE = /[<>&"\x00-\x08\x0b\x0c\x0e-\x1f]/;

/** XML-escapes text and drops the control characters XAPI drops (all but tab, LF, CR). */
export function escapeXml(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[<>&"\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '',
  );
}

type Enc = (v: unknown) => string;

/** Encodes values of one model: builds and caches one encoder per type and per record class. */
export class XmlEncoder {
  private readonly model: Model;
  private readonly cache = new Map<XType, Enc>();
  private readonly recordEncoders = new Map<string, (rec: Record<string, unknown>) => string>();

  constructor(model: Model) {
    this.model = model;
  }

  /** `<value>…</value>` for `v` read as type `t`. */
  value(t: XType, v: unknown): string {
    return this.encoderFor(t)(v);
  }

  encoderFor(t: XType): Enc {
    let e = this.cache.get(t);
    if (!e) {
      e = this.build(t);
      this.cache.set(t, e);
    }
    return e;
  }

  /** The `<value><struct>` of a whole record, cached on the object while it is unchanged. */
  record(cls: string, v: unknown): string {
    if (v instanceof DbObject) {
      if (v.xmlVer !== v.ver) {
        v.xml = this.recordEncoder(v.cls.name)(v.rec);
        v.xmlVer = v.ver;
      }
      return v.xml;
    }
    return this.recordEncoder(cls)(v as Record<string, unknown>);
  }

  private recordEncoder(cls: string): (rec: Record<string, unknown>) => string {
    let e = this.recordEncoders.get(cls);
    if (e) return e;
    const spec = this.model.classes.get(cls);
    if (!spec) return (rec) => dynamicValue(rec);
    const parts = spec.fields.map((f) => ({ name: f.name, prefix: `<member><name>${f.name}</name>`, enc: this.encoderFor(f.type) }));
    // Arrays joined once give flat strings; long += chains give ropes that cost more to flatten when sent.
    e = (rec) => {
      const out: string[] = ['<value><struct>'];
      for (const p of parts) {
        const v = rec[p.name];
        if (v === undefined) continue;
        out.push(p.prefix, p.enc(v), '</member>');
      }
      out.push('</struct></value>');
      return out.join('');
    };
    this.recordEncoders.set(cls, e);
    return e;
  }

  private build(t: XType): Enc {
    switch (t.k) {
      case 'string':
      case 'enum':
      case 'ref':
        return (v) => (typeof v === 'string' ? `<value>${escapeXml(v)}</value>` : dynamicValue(v));
      case 'int':
        return (v) => (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' ? `<value>${String(v)}</value>` : dynamicValue(v));
      case 'float':
        return (v) => `<value><double>${formatDouble(Number(v))}</double></value>`;
      case 'bool':
        return (v) => `<value><boolean>${v === true || v === 'true' || v === 1 ? 1 : 0}</boolean></value>`;
      case 'datetime':
        return (v) => `<value><dateTime.iso8601>${escapeXml(String(v))}</dateTime.iso8601></value>`;
      case 'void':
        return () => '<value></value>';
      case 'set': {
        const item = this.encoderFor(t.of);
        return (v) => {
          if (!Array.isArray(v)) return dynamicValue(v);
          const out: string[] = ['<value><array><data>'];
          for (const x of v) out.push(item(x));
          out.push('</data></array></value>');
          return out.join('');
        };
      }
      case 'map': {
        const val = this.encoderFor(t.val);
        return (v) => {
          if (v === null || typeof v !== 'object') return dynamicValue(v);
          const out: string[] = ['<value><struct>'];
          for (const k in v as Record<string, unknown>) {
            out.push('<member><name>', escapeXml(k), '</name>', val((v as Record<string, unknown>)[k]), '</member>');
          }
          out.push('</struct></value>');
          return out.join('');
        };
      }
      case 'record':
        return (v) => this.record(t.cls, v);
      case 'option': {
        const inner = this.encoderFor(t.of);
        return (v) => (v === undefined || v === null ? '<value></value>' : inner(v));
      }
      case 'batch':
        return (v) => this.batch(v as EventBatch);
      default:
        return dynamicValue;
    }
  }

  private batch(b: EventBatch): string {
    let s = '<value><struct><member><name>events</name><value><array><data>';
    for (const e of b.events) {
      s +=
        '<value><struct>' +
        `<member><name>id</name><value>${e.id}</value></member>` +
        `<member><name>timestamp</name><value>${escapeXml(e.timestamp)}</value></member>` +
        `<member><name>class</name><value>${e.class}</value></member>` +
        `<member><name>operation</name><value>${e.operation}</value></member>` +
        `<member><name>ref</name><value>${escapeXml(e.ref)}</value></member>`;
      if (e.snapshot !== undefined) s += `<member><name>snapshot</name>${this.record(e.snapshot.cls.name, e.snapshot)}</member>`;
      s += '</struct></value>';
    }
    s += '</data></array></value></member><member><name>valid_ref_counts</name><value><struct>';
    for (const k in b.valid_ref_counts) s += `<member><name>${k}</name><value><i4>${b.valid_ref_counts[k]}</i4></value></member>`;
    s += `</struct></value></member><member><name>token</name><value>${escapeXml(b.token)}</value></member></struct></value>`;
    return s;
  }
}

function formatDouble(n: number): string {
  if (Number.isFinite(n)) return String(n);
  return Number.isNaN(n) ? 'nan' : n > 0 ? 'inf' : '-inf';
}

/** Encodes a value of unknown type the way XAPI would for its natural type (ints untyped, like XAPI). */
export function dynamicValue(v: unknown): string {
  if (v === undefined || v === null) return '<value></value>';
  if (typeof v === 'string') return `<value>${escapeXml(v)}</value>`;
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (typeof v === 'number') return Number.isInteger(v) ? `<value>${v}</value>` : `<value><double>${formatDouble(v)}</double></value>`;
  if (typeof v === 'bigint') return `<value>${v}</value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(dynamicValue).join('')}</data></array></value>`;
  if (v instanceof DbObject) return dynamicValue(v.rec);
  let s = '<value><struct>';
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined) continue;
    s += `<member><name>${escapeXml(k)}</name>${dynamicValue(x)}</member>`;
  }
  return s + '</struct></value>';
}

const HEAD = '<?xml version="1.0"?><methodResponse><params><param>';
const TAIL = '</param></params></methodResponse>';

/** XAPI's success envelope: `{Status: "Success", Value}` inside the one `<param>`. */
export function xmlSuccess(valueXml: string): string {
  return (
    HEAD +
    '<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>' +
    valueXml +
    '</member></struct></value>' +
    TAIL
  );
}

/** XAPI's failure envelope: `{Status: "Failure", ErrorDescription: [code, ...params]}` (never <fault>). */
export function xmlFailure(error: readonly string[]): string {
  return (
    HEAD +
    '<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>' +
    error.map((e) => `<value>${escapeXml(e)}</value>`).join('') +
    '</data></array></value></member></struct></value>' +
    TAIL
  );
}

/** A bare result with no Status wrapper (what XAPI does for system.listMethods). */
export function xmlBare(valueXml: string): string {
  return HEAD + valueXml + TAIL;
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding of requests: a small tokenizer plus recursive descent; requests are small, so clarity wins here.
// ---------------------------------------------------------------------------------------------------------------

/** Raised for a body that is not a well-formed XML-RPC call; the server answers HTTP 500, as XAPI does. */
export class XmlParseError extends Error {}

interface Tok {
  kind: 'open' | 'close' | 'empty' | 'text';
  name: string;
  text: string;
}

const TOKEN_RE = /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|([^<]+)|(<)/g;

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  TOKEN_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TOKEN_RE.exec(s))) {
    if (m[6] !== undefined) throw new XmlParseError('stray <');
    if (m[1] !== undefined) out.push({ kind: 'text', name: '', text: m[1] });
    else if (m[3] !== undefined) out.push({ kind: m[2] ? 'close' : m[4] ? 'empty' : 'open', name: m[3], text: '' });
    else if (m[5] !== undefined) out.push({ kind: 'text', name: '', text: decodeEntities(m[5]) });
  }
  // Whitespace between elements is layout, except when it is the whole content of <value> or <string>.
  return out.filter((t, i) => {
    if (t.kind !== 'text' || t.text.trim() !== '') return true;
    const prev = out[i - 1];
    const next = out[i + 1];
    return prev?.kind === 'open' && (prev.name === 'value' || prev.name === 'string') && next?.kind === 'close' && next.name === prev.name;
  });
}

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

class Parser {
  private i = 0;
  private readonly toks: Tok[];
  constructor(toks: Tok[]) {
    this.toks = toks;
  }
  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  open(name: string): boolean {
    const t = this.peek();
    if (t?.kind === 'empty' && t.name === name) {
      this.i++;
      return false;
    }
    if (t?.kind !== 'open' || t.name !== name) throw new XmlParseError(`expected <${name}>`);
    this.i++;
    return true;
  }
  close(name: string): void {
    const t = this.peek();
    if (t?.kind !== 'close' || t.name !== name) throw new XmlParseError(`expected </${name}>`);
    this.i++;
  }
  isOpen(name: string): boolean {
    const t = this.peek();
    return (t?.kind === 'open' || t?.kind === 'empty') && t.name === name;
  }
  readText(): string {
    let s = '';
    while (this.toks[this.i]?.kind === 'text') s += this.toks[this.i++]!.text;
    return s;
  }
  simple(name: string): string {
    if (!this.open(name)) return '';
    const s = this.readText();
    this.close(name);
    return s;
  }

  value(): unknown {
    if (!this.open('value')) return '';
    const t = this.toks[this.i];
    let v: unknown;
    if (t && (t.kind === 'open' || t.kind === 'empty')) {
      v = this.typed(t.name);
    } else {
      // An untyped value is a string (and may be entirely whitespace).
      v = this.readText();
      if (this.toks[this.i]?.kind === 'open' || this.toks[this.i]?.kind === 'empty') v = this.typed(this.toks[this.i]!.name);
    }
    this.close('value');
    return v;
  }

  private typed(name: string): unknown {
    switch (name) {
      case 'string':
        return this.simple('string');
      case 'i4':
      case 'int':
      case 'i8': {
        const s = this.simple(name).trim();
        if (!/^[+-]?\d+$/.test(s)) throw new XmlParseError(`bad ${name}`);
        return Number(s);
      }
      case 'boolean': {
        const s = this.simple(name).trim();
        if (s !== '0' && s !== '1') throw new XmlParseError('bad boolean');
        return s === '1';
      }
      case 'double': {
        const s = this.simple(name).trim();
        const n = Number(s);
        if (s === '' || Number.isNaN(n)) throw new XmlParseError('bad double');
        return n;
      }
      case 'dateTime.iso8601':
        return this.simple(name).trim();
      case 'base64':
        return Buffer.from(this.simple(name), 'base64').toString('utf8');
      case 'nil':
        this.simple('nil');
        return null;
      case 'array': {
        const out: unknown[] = [];
        if (this.open('array')) {
          if (this.open('data')) {
            while (this.isOpen('value')) out.push(this.value());
            this.close('data');
          }
          this.close('array');
        }
        return out;
      }
      case 'struct': {
        const out: Record<string, unknown> = {};
        if (this.open('struct')) {
          while (this.isOpen('member')) {
            this.open('member');
            const k = this.simple('name');
            out[k] = this.value();
            this.close('member');
          }
          this.close('struct');
        }
        return out;
      }
      default:
        throw new XmlParseError(`unknown type <${name}>`);
    }
  }

  methodCall(): { method: string; params: unknown[] } {
    this.open('methodCall');
    const method = this.simple('methodName').trim();
    const params: unknown[] = [];
    if (this.isOpen('params') && this.open('params')) {
      while (this.isOpen('param')) {
        this.open('param');
        params.push(this.value());
        this.close('param');
      }
      this.close('params');
    }
    this.close('methodCall');
    if (this.peek() !== undefined) throw new XmlParseError('trailing content');
    return { method, params };
  }

}

/** Parses an XML-RPC `<methodCall>`; throws XmlParseError when the body is not one. */
export function parseMethodCall(body: string): { method: string; params: unknown[] } {
  const p = new Parser(tokenize(body));
  const call = p.methodCall();
  if (!call.method) throw new XmlParseError('empty methodName');
  return call;
}
