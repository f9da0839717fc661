/**
 * A streaming decoder for XML-RPC method responses, written for XAPI's replies: the `xmlrpc` package's
 * sax-based decoder runs at about 4 MB/s, which is 20 s for one `VM.get_all_records` of a 10k-VM
 * pool; this one handles the same documents an order of magnitude faster and consumes the body chunk
 * by chunk as it arrives, so no single step blocks the event loop for long.
 *
 * It understands exactly XML-RPC: methodResponse/params/param or fault, value (untyped = string),
 * string, int, i4, i8, double, boolean, dateTime.iso8601 (kept as the wire string, as XAPI writes it),
 * base64, nil, struct/member/name, array/data; self-closing tags, the XML declaration, comments and
 * CDATA, and the five XML entities plus numeric character references.
 */

const EMPTY = Buffer.alloc(0);
// Below this, an unfinished text run waits whole for the next chunk; above, it is consumed in part.
const PARTIAL_TEXT_BYTES = 64 * 1024;

const TAGS = [
  'value', 'struct', 'member', 'name', 'array', 'data', 'string', 'int', 'i4', 'i8', 'double', 'boolean',
  'dateTime.iso8601', 'base64', 'nil', 'methodResponse', 'params', 'param', 'fault',
] as const;
type Tag = (typeof TAGS)[number];
// Candidates by name length and first byte, each with its bytes for a native compare: a tag is
// recognised without making a string of it (tag strings were most of the garbage per reply).
// An array indexed by length * 256 + first byte (a Map lookup per tag showed in profiles).
const LONGEST_TAG = Math.max(...TAGS.map((t) => t.length));
const TAG_INDEX: ({ tag: Tag; bytes: Buffer }[] | undefined)[] = Array.from({ length: (LONGEST_TAG + 1) * 256 }, () => undefined);
for (const tag of TAGS) {
  const key = tag.length * 256 + tag.charCodeAt(0);
  (TAG_INDEX[key] ??= []).push({ tag, bytes: Buffer.from(tag, 'latin1') });
}

/** The XML-RPC tag named by buf[from, to), or an error naming what is there. */
function tagOf(buf: Buffer, from: number, to: number, closing = false): Tag {
  const length = to - from;
  const list = length > 0 && length <= LONGEST_TAG ? TAG_INDEX[length * 256 + buf[from]!] : undefined;
  if (list) {
    // A byte loop: tags are short, and a native compare per tag costs more in the call than the work.
    for (const c of list) {
      const b = c.bytes;
      let i = 1;
      while (i < b.length && b[i] === buf[from + i]) i++;
      if (i === b.length) return c.tag;
    }
  }
  const name = buf.toString('latin1', from, to);
  throw new Error(closing ? `unexpected XML-RPC tag </${name}>` : `unexpected XML-RPC tag <${name}>`);
}

// How far find() looks byte by byte before it asks the native search.
const NEAR = 32;

/**
 * buf.indexOf(byte, from), a byte loop over the first NEAR bytes: markup is dense (a tag every few
 * bytes), and a native call per tag cost more than the search itself.
 */
function find(buf: Buffer, byte: number, from: number): number {
  const n = buf.length;
  const stop = from + NEAR < n ? from + NEAR : n;
  for (let i = from; i < stop; i++) if (buf[i] === byte) return i;
  return stop < n ? buf.indexOf(byte, stop) : -1;
}

type Frame =
  | { kind: 'value'; text: string; typed: boolean }
  | { kind: 'scalar'; tag: Tag; text: string }
  | { kind: 'struct'; keys: string[]; values: unknown[]; name: string }
  | { kind: 'array'; items: unknown[] }
  | { kind: 'name'; text: string }
  | { kind: 'other'; tag: Tag };

/**
 * A new frame. Every kind gets the same fields in the same order, so V8 sees one object shape
 * where the decoder reads `kind` and the rest (six shapes made those reads the slowest part).
 */
function frame(kind: Frame['kind'], tag: Tag, keys?: string[], values?: unknown[], items?: unknown[]): Frame {
  return { kind, tag, text: '', typed: false, keys, values, name: '', items } as unknown as Frame;
}

/** The decoded `<param>` value, or a fault. */
export type XmlRpcResponse = { fault: false; value: unknown } | { fault: true; value: unknown };

export class XmlRpcResponseDecoder {
  private buf: Buffer = EMPTY;
  private readonly stack: Frame[] = [];
  private result: unknown = undefined;
  private hasResult = false;
  private isFault = false;
  private sawResponse = false;
  // Made once a reply proves large: a small one would pay for the table and gain nothing.
  private texts: ShortTexts | undefined;
  private bytesIn = 0;

  /**
   * Feeds the next piece of the document. Works on bytes, so every decoded string is a fresh copy:
   * slicing a big text chunk instead would keep each whole chunk alive through its slices (V8 sliced
   * strings), which tripled the heap held by a 10k-VM snapshot.
   */
  write(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.bytesIn += bytes.length;
    if (!this.texts && this.bytesIn > SHORT_TEXTS_AFTER) this.texts = new ShortTexts();
    this.buf = this.buf.length ? Buffer.concat([this.buf, bytes]) : bytes;
    this.drain();
  }

  /** Ends the document; throws if it was incomplete or not a method response. */
  end(): XmlRpcResponse {
    if (this.buf.toString('latin1').trim() !== '') throw new Error('XML-RPC reply cut short');
    if (!this.sawResponse || this.stack.length > 0 || !this.hasResult) throw new Error('not a complete XML-RPC method response');
    return { fault: this.isFault, value: this.result };
  }

  private drain(): void {
    const buf = this.buf;
    const n = buf.length;
    let pos = 0;
    for (;;) {
      const lt = find(buf, 0x3c /* < */, pos);
      if (lt < 0) {
        // A text run not yet ended by a tag: take what is safe now, so a long string that arrives in
        // many chunks is not copied again with each of them.
        pos = this.partialText(buf, pos);
        break;
      }
      if (lt > pos) this.text(buf, pos, lt);
      pos = lt;
      const next = buf[lt + 1];
      if (next === undefined) break;
      if (next === 0x21 /* ! */) {
        if (buf.toString('latin1', lt, lt + 9) === '<![CDATA[') {
          const end = buf.indexOf(']]>', lt + 9, 'latin1');
          if (end < 0) break;
          this.rawText(buf.toString('utf8', lt + 9, end));
          pos = end + 3;
          continue;
        }
        if (buf.toString('latin1', lt, lt + 4) === '<!--') {
          const end = buf.indexOf('-->', lt + 4, 'latin1');
          if (end < 0) break;
          pos = end + 3;
          continue;
        }
      }
      const gt = find(buf, 0x3e /* > */, lt + 1);
      if (gt < 0) break;
      pos = gt + 1;
      if (next === 0x3f /* ? */ || next === 0x21) continue; // <?xml ...?>, <!DOCTYPE>
      if (next === 0x2f /* / */) {
        this.close(buf, lt + 2, gt);
        continue;
      }
      const selfClosing = buf[gt - 1] === 0x2f;
      // The name ends at the first space (XML-RPC tags carry no attributes, but tolerate them).
      let nameEnd = lt + 1;
      const limit = selfClosing ? gt - 1 : gt;
      while (nameEnd < limit && buf[nameEnd] !== 0x20 && buf[nameEnd] !== 0x09 && buf[nameEnd] !== 0x0a && buf[nameEnd] !== 0x0d) nameEnd++;
      const tag = tagOf(buf, lt + 1, nameEnd);
      if (!selfClosing && (tag === 'value' || tag === 'name')) {
        const end = this.leaf(buf, tag, gt + 1);
        if (end > 0) {
          pos = end;
          continue;
        }
      }
      this.open(tag);
      if (selfClosing) this.closeFrame(tag);
    }
    // Keep only the unconsumed tail (an incomplete tag or text run), copied so the chunk can be freed.
    this.buf = pos >= n ? EMPTY : Buffer.from(buf.subarray(pos));
  }

  /**
   * The common case of `<value>` and `<name>`, text up to the next tag and that tag a closing one
   * (XAPI writes nearly every field so): handled as open, text and close would, without a frame.
   * `from` is just after the opening tag; returns where decoding goes on, or -1 when the element is
   * anything else or not all here yet (then it takes the general way).
   */
  private leaf(buf: Buffer, tag: 'value' | 'name', from: number): number {
    const lt = find(buf, 0x3c /* < */, from);
    // Not `</`: a typed value, CDATA or a comment inside, or the text goes on in the next chunk.
    if (lt < 0 || buf[lt + 1] !== 0x2f) return -1;
    const gt = find(buf, 0x3e /* > */, lt + 2);
    if (gt < 0) return -1;
    // What open() does first: a tag inside an untyped `<value>` makes it typed.
    const top = this.stack[this.stack.length - 1];
    if (top?.kind === 'value') top.typed = true;
    // As close() does for these frames, the closing tag's name is not read: any `</...>` ends them.
    const text = lt === from ? '' : this.texts ? this.texts.text(buf, from, lt) : decodeEntities(buf.toString('utf8', from, lt));
    if (tag === 'value') this.deliver(text);
    else {
      // closeFrame's `name` case, with the name frame never pushed: the struct is under the top frame.
      const parent = this.stack[this.stack.length - 2];
      if (parent?.kind === 'struct') parent.name = text;
    }
    return gt + 1;
  }

  /**
   * Consumes the text run from `from` to the end of `buf` up to where it is safe to decode (not in
   * the middle of a UTF-8 character or an entity) when the open frame collects text; returns where
   * the unconsumed rest begins. Short runs are left whole for the next chunk.
   */
  private partialText(buf: Buffer, from: number): number {
    if (buf.length - from < PARTIAL_TEXT_BYTES) return from;
    const top = this.stack[this.stack.length - 1];
    if (!top || !((top.kind === 'value' && !top.typed) || top.kind === 'scalar' || top.kind === 'name')) return buf.length;
    let cut = buf.length;
    // Back off over a trailing incomplete UTF-8 sequence: continuation bytes, then their lead byte.
    while (cut > from && (buf[cut - 1]! & 0xc0) === 0x80) cut--;
    if (cut > from && buf[cut - 1]! >= 0xc0) cut--;
    // And before an entity that may be incomplete (an '&' with no ';' after it).
    const amp = cut > from ? buf.lastIndexOf(0x26 /* & */, cut - 1) : -1;
    if (amp >= from && buf.indexOf(0x3b /* ; */, amp) < 0) cut = amp;
    if (cut > from) this.text(buf, from, cut);
    return cut;
  }

  private text(buf: Buffer, from: number, to: number): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) return;
    if ((top.kind === 'value' && !top.typed) || top.kind === 'scalar' || top.kind === 'name') {
      top.text += decodeEntities(buf.toString('utf8', from, to));
    }
  }

  private rawText(s: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top && ((top.kind === 'value' && !top.typed) || top.kind === 'scalar' || top.kind === 'name')) top.text += s;
  }

  private open(tag: Tag): void {
    const top = this.stack[this.stack.length - 1];
    if (top?.kind === 'value') top.typed = true;
    switch (tag) {
      case 'value':
        this.stack.push(frame('value', tag));
        return;
      case 'struct':
        this.stack.push(frame('struct', tag, [], []));
        return;
      case 'array':
        this.stack.push(frame('array', tag, undefined, undefined, []));
        return;
      case 'name':
        this.stack.push(frame('name', tag));
        return;
      case 'string': case 'int': case 'i4': case 'i8': case 'double': case 'boolean':
      case 'dateTime.iso8601': case 'base64': case 'nil':
        this.stack.push(frame('scalar', tag));
        return;
      case 'methodResponse':
        this.sawResponse = true;
        this.stack.push(frame('other', tag));
        return;
      case 'fault':
        this.isFault = true;
        this.stack.push(frame('other', tag));
        return;
      default: // params, param, member, data
        this.stack.push(frame('other', tag));
    }
  }

  /** `</...>` with its name at buf[from, to): the name is only read where the frame does not say it. */
  private close(buf: Buffer, from: number, to: number): void {
    const frame = this.stack[this.stack.length - 1];
    if (!frame) throw new Error(`unbalanced </${buf.toString('latin1', from, to).trim()}>`);
    if (frame.kind === 'other') {
      let end = to;
      while (end > from && (buf[end - 1] === 0x20 || buf[end - 1] === 0x0a || buf[end - 1] === 0x0d || buf[end - 1] === 0x09)) end--;
      const closing = tagOf(buf, from, end, true);
      if (closing !== frame.tag) throw new Error(`</${closing}> closes <${frame.tag}>`);
    }
    this.closeFrame(frame.kind === 'other' ? frame.tag : 'value');
  }

  private closeFrame(tag: string): void {
    const frame = this.stack.pop();
    if (!frame) throw new Error(`unbalanced </${tag}>`);
    switch (frame.kind) {
      case 'value':
        if (!frame.typed) this.deliver(frame.text);
        return;
      case 'scalar':
        this.deliver(scalar(frame.tag, frame.text));
        return;
      case 'struct':
        this.deliver(structOf(frame.keys, frame.values));
        return;
      case 'array':
        this.deliver(frame.items);
        return;
      case 'name': {
        const parent = this.stack[this.stack.length - 2];
        if (parent?.kind === 'struct') parent.name = frame.text;
        return;
      }
      default:
        if (frame.tag !== tag) throw new Error(`</${tag}> closes <${frame.tag}>`);
    }
  }

  /** Hands a finished value to whatever contains its `<value>`. */
  private deliver(v: unknown): void {
    // The value's own frame may still be open (typed content): deliver through it.
    let i = this.stack.length - 1;
    const top = this.stack[i];
    if (top?.kind === 'value') {
      // Typed content inside <value>: the <value> closes next and must not deliver again.
      top.typed = true;
      i--;
    }
    for (; i >= 0; i--) {
      const f = this.stack[i]!;
      if (f.kind === 'struct') {
        f.keys.push(f.name);
        f.values.push(v);
        return;
      }
      if (f.kind === 'array') {
        f.items.push(v);
        return;
      }
      if (f.kind === 'other' && (f.tag === 'param' || f.tag === 'fault')) {
        this.result = v;
        this.hasResult = true;
        return;
      }
      if (f.kind === 'other' && (f.tag === 'member' || f.tag === 'data')) continue;
    }
  }
}

// Structs of at least this many members are built by a constructor made for their member names:
// V8 keeps an object that gains more than about a dozen properties one keyed store at a time in
// dictionary mode, which is larger and slower to read (every XAPI record); an object literal of
// the same names is a fast object, as JSON.parse makes. Smaller structs stay fast either way.
const SHAPED_MIN = 12;
const SHAPED_MAX = 256;
// Each distinct list of names costs a compiled function; records of one class share theirs.
const MAX_SHAPES = 512;
const shapes = new Map<string, ((values: unknown[]) => Record<string, unknown>) | null>();

/** The struct's members as an object, in order; a repeated name keeps its first place and last value. */
function structOf(keys: string[], values: unknown[]): Record<string, unknown> {
  const n = keys.length;
  if (n >= SHAPED_MIN && n <= SHAPED_MAX) {
    const signature = keys.join('\u0000');
    let make = shapes.get(signature);
    if (make === undefined && shapes.size < MAX_SHAPES) shapes.set(signature, (make = shapeFor(keys)));
    if (make) return make(values);
  }
  const obj: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) obj[keys[i]!] = values[i];
  return obj;
}

/**
 * A function returning `{ [keys[0]]: values[0], ... }` as an object literal; null where one cannot
 * be made (a repeated name or `__proto__`, which a literal treats differently; code generation
 * turned off). The names come from the wire: each is written as a JSON string literal, which is
 * also a JavaScript one, so no name can be more than a property name.
 */
function shapeFor(keys: string[]): ((values: unknown[]) => Record<string, unknown>) | null {
  if (new Set(keys).size !== keys.length || keys.includes('__proto__')) return null;
  try {
    return new Function('v', `return {${keys.map((k, i) => `${JSON.stringify(k)}: v[${i}]`).join(', ')}};`) as (values: unknown[]) => Record<string, unknown>;
  } catch {
    return null;
  }
}

const SHORT_TEXTS_AFTER = 256 * 1024;
const SLOTS = 4096; // a power of two
const SHORT = 24;

/**
 * The decoded text of short byte runs, kept by their bytes in a direct-mapped table: a record's
 * member names and most of its values (enums, flags, `OpaqueRef:NULL`, small numbers) repeat in
 * every record, and each is then one string shared by all of them instead of one decode and one
 * copy per record. A run whose slot holds other bytes is decoded and takes the slot over.
 */
class ShortTexts {
  private readonly bytes = new Uint8Array(SLOTS * SHORT);
  private readonly lengths = new Int32Array(SLOTS).fill(-1);
  private readonly strings: string[] = new Array<string>(SLOTS).fill('');

  /** decodeEntities(buf.toString('utf8', from, to)). */
  text(buf: Buffer, from: number, to: number): string {
    const n = to - from;
    if (n > SHORT) return decodeEntities(buf.toString('utf8', from, to));
    let h = n;
    for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
    const at = slot * SHORT;
    if (this.lengths[slot] === n) {
      let i = 0;
      while (i < n && this.bytes[at + i] === buf[from + i]) i++;
      if (i === n) return this.strings[slot]!;
    }
    const s = decodeEntities(buf.toString('utf8', from, to));
    this.lengths[slot] = n;
    this.bytes.set(buf.subarray(from, to), at);
    this.strings[slot] = s;
    return s;
  }
}

function scalar(tag: string, text: string): unknown {
  switch (tag) {
    case 'int':
    case 'i4': {
      const n = parseInt(text, 10);
      if (Number.isNaN(n)) throw new Error(`bad int '${text}'`);
      return n;
    }
    case 'i8':
      return text.trim();
    case 'double':
      return parseFloat(text);
    case 'boolean':
      return text.trim() === '1';
    case 'base64':
      return Buffer.from(text, 'base64');
    case 'nil':
      return null;
    default:
      return text; // string, dateTime.iso8601
  }
}

const ENTITY = /&(?:#x([0-9a-fA-F]+)|#(\d+)|(lt|gt|amp|quot|apos));/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(ENTITY, (_m, hex: string | undefined, dec: string | undefined, name: string | undefined) =>
    hex ? String.fromCodePoint(parseInt(hex, 16)) : dec ? String.fromCodePoint(parseInt(dec, 10)) : NAMED[name!]!,
  );
}
