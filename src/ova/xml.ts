/**
 * A small, strict XML reader for OVF descriptors. It accepts what OVF writers produce (elements, attributes,
 * text, CDATA, comments, processing instructions) and refuses what an attacker would use: any DTD (so no entity
 * can be declared, let alone expanded), entities other than XML's five and character references, and documents
 * past the size, depth and count bounds. Namespace prefixes are dropped: OVF's elements are known by local name
 * across OVF 1.x and 2.x (`ovf:`, `rasd:`, `vssd:`, `vmw:`, `vbox:` ...).
 */

/** A document XML refused, with the line where the problem is. */
export class XmlError extends Error {
  override name = 'XmlError';
}

/** One element: local name (prefix dropped), attributes by local name, children, and its own text (trimmed). */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
  /** 1-based line of its start tag. */
  line: number;
}

/** Bounds on one document (defaults in XML_LIMITS). */
export interface XmlLimits {
  maxDepth: number;
  maxElements: number;
  maxAttributes: number;
}

export const XML_LIMITS: XmlLimits = { maxDepth: 64, maxElements: 100_000, maxAttributes: 256 };

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const NAME = /^[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?/;

function localName(q: string): string {
  const colon = q.indexOf(':');
  return colon < 0 ? q : q.slice(colon + 1);
}

/** Parses `xml` into its root element, or throws XmlError naming `what` and the line. */
export function parseXml(xml: string, what: string, limits: XmlLimits = XML_LIMITS): XmlElement {
  let pos = 0;
  let elements = 0;
  // Line numbers are counted forward from the last one asked for (start tags come in order), so the whole
  // document is scanned once.
  let seenAt = 0;
  let seenLine = 1;
  const lineAt = (at: number): number => {
    if (at < seenAt) {
      seenAt = 0;
      seenLine = 1;
    }
    for (let i = xml.indexOf('\n', seenAt); i >= 0 && i < at; i = xml.indexOf('\n', i + 1)) {
      seenLine++;
      seenAt = i + 1;
    }
    return seenLine;
  };
  const fail = (msg: string, at = pos): never => {
    throw new XmlError(`${what}: line ${lineAt(at)}: ${msg}`);
  };
  const decode = (s: string, at: number): string =>
    s.replace(/&([^;&<]*);?/g, (m, ref: string) => {
      if (!m.endsWith(';')) fail(`'&' that starts no entity reference`, at);
      if (ref in PREDEFINED) return PREDEFINED[ref]!;
      const num = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref);
      if (num) {
        const cp = num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]);
        if (cp > 0 && cp <= 0x10ffff) return String.fromCodePoint(cp);
      }
      return fail(`entity '&${ref};' is not accepted (only XML's predefined entities and character references)`, at);
    });

  const stack: { el: XmlElement; qname: string; text: string[] }[] = [];
  let root: XmlElement | undefined;
  if (xml.charCodeAt(0) === 0xfeff) pos = 1;

  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    const textEnd = lt < 0 ? xml.length : lt;
    if (textEnd > pos) {
      const raw = xml.slice(pos, textEnd);
      if (stack.length > 0) stack[stack.length - 1]!.text.push(decode(raw, pos));
      else if (raw.trim() !== '') fail('text outside the root element');
    }
    if (lt < 0) break;
    pos = lt;
    if (xml.startsWith('<!--', pos)) {
      const end = xml.indexOf('-->', pos + 4);
      if (end < 0) fail('unterminated comment');
      pos = end + 3;
    } else if (xml.startsWith('<![CDATA[', pos)) {
      const end = xml.indexOf(']]>', pos + 9);
      if (end < 0) fail('unterminated CDATA section');
      if (stack.length === 0) fail('CDATA outside the root element');
      stack[stack.length - 1]!.text.push(xml.slice(pos + 9, end));
      pos = end + 3;
    } else if (xml.startsWith('<!', pos)) {
      fail('a DTD (<!DOCTYPE or <!ENTITY) is not accepted in an OVF descriptor: entity declarations could expand without bound');
    } else if (xml.startsWith('<?', pos)) {
      const end = xml.indexOf('?>', pos + 2);
      if (end < 0) fail('unterminated processing instruction');
      pos = end + 2;
    } else if (xml.startsWith('</', pos)) {
      const m = NAME.exec(xml.slice(pos + 2, pos + 2 + 256));
      const top = stack.pop();
      if (!m || !top) return fail('unexpected end tag');
      if (m[0] !== top.qname) fail(`end tag </${m[0]}> does not close <${top.qname}> (line ${top.el.line})`);
      const close = xml.indexOf('>', pos);
      if (close < 0 || xml.slice(pos + 2 + m[0].length, close).trim() !== '') fail('malformed end tag');
      top.el.text = top.text.join('').trim();
      pos = close + 1;
    } else {
      const m = NAME.exec(xml.slice(pos + 1, pos + 1 + 256));
      if (!m) fail('malformed start tag');
      const qname = m![0];
      const start = pos;
      pos += 1 + qname.length;
      const attrs: Record<string, string> = {};
      let count = 0;
      let selfClosing = false;
      for (;;) {
        const ws = /^\s*/.exec(xml.slice(pos, pos + 4096))![0].length;
        pos += ws;
        if (xml.startsWith('/>', pos)) {
          selfClosing = true;
          pos += 2;
          break;
        }
        if (xml[pos] === '>') {
          pos += 1;
          break;
        }
        if (ws === 0) fail(`malformed attribute in <${qname}>`);
        const an = NAME.exec(xml.slice(pos, pos + 256));
        if (!an) fail(`malformed attribute in <${qname}>`);
        pos += an![0].length;
        const eq = /^\s*=\s*(["'])/.exec(xml.slice(pos, pos + 64));
        if (!eq) fail(`attribute ${an![0]} has no quoted value`);
        pos += eq![0].length;
        const close = xml.indexOf(eq![1]!, pos);
        if (close < 0) fail(`unterminated value of attribute ${an![0]}`);
        const value = xml.slice(pos, close);
        if (value.includes('<')) fail(`'<' in the value of attribute ${an![0]}`);
        pos = close + 1;
        if (++count > limits.maxAttributes) fail(`more than ${limits.maxAttributes} attributes in <${qname}>`);
        const qa = an![0];
        if (qa === 'xmlns' || qa.startsWith('xmlns:')) continue;
        const local = localName(qa);
        if (!(local in attrs)) attrs[local] = decode(value, pos);
      }
      if (++elements > limits.maxElements) fail(`more than ${limits.maxElements} elements`);
      if (stack.length === 0 && root) fail('a second root element');
      const el: XmlElement = { name: localName(qname), attrs, children: [], text: '', line: lineAt(start) };
      if (stack.length > 0) stack[stack.length - 1]!.el.children.push(el);
      else root = el;
      if (!selfClosing) {
        if (stack.length >= limits.maxDepth) fail(`elements nested deeper than ${limits.maxDepth}`);
        stack.push({ el, qname, text: [] });
      }
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1]!.qname}> (line ${stack[stack.length - 1]!.el.line}) is never closed`);
  if (!root) fail('no root element');
  return root!;
}

/** Children of `el` with local name `name`. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

/** The first child of `el` with local name `name`. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** Every descendant of `el` (depth first, document order) with local name `name`. */
export function descendants(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    for (const c of e.children) {
      if (c.name === name) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}
