import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { XmlRpcResponseDecoder } from '../../src/xapi/xmlrpc-decoder.js';

// The reference: the xmlrpc package's sax-based decoder, with datetimes kept as wire strings as ours does.
const require = createRequire(import.meta.url);
const Deserializer = require('xmlrpc/lib/deserializer.js') as new () => {
  deserializeMethodResponse(s: NodeJS.ReadableStream, cb: (e: Error | null, v?: unknown) => void): void;
  push(v: unknown): void;
  value: boolean;
  endDateTime(d: string): void;
};
function referenceDecode(xml: string): Promise<unknown> {
  const d = new Deserializer();
  d.endDateTime = function (data: string) {
    this.push(data);
    this.value = false;
  };
  return new Promise((resolve, reject) =>
    d.deserializeMethodResponse(Readable.from(Buffer.from(xml), { objectMode: false }), (e, v) => (e ? reject(e) : resolve(v))),
  );
}

function decodeInPieces(xml: string, size: number): unknown {
  const dec = new XmlRpcResponseDecoder();
  for (let i = 0; i < xml.length; i += size) dec.write(xml.slice(i, i + size));
  return dec.end().value;
}

let sim: Simulator;
let session: string;
const post = (body: string) =>
  fetch(sim.url + '/', { method: 'POST', body, headers: { 'content-type': 'text/xml' } }).then((r) => r.text());
const call = (method: string, ...params: string[]) =>
  post(
    `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params
      .map((p) => `<param><value>${p}</value></param>`)
      .join('')}</params></methodCall>`,
  );

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo', vms: 20 });
  session = /OpaqueRef:[^<]+/.exec(await call('session.login_with_password', 'root', 'xops'))![0];
});
afterAll(() => sim.stop());

describe('XmlRpcResponseDecoder', () => {
  // why: the decoder replaces the xmlrpc package's for speed; it must read real XAPI replies identically
  it.each(['VM', 'host', 'pool', 'SR', 'PIF', 'VM_metrics', 'VBD'])(
    'decodes %s.get_all_records exactly as the xmlrpc package does',
    async (cls) => {
      const xml = await call(`${cls}.get_all_records`, session);
      const ours = decodeInPieces(xml, xml.length);
      expect(ours).toEqual(await referenceDecode(xml));
      expect(Object.keys((ours as { Value: object }).Value).length).toBeGreaterThan(0);
    },
  );

  it('gives the same result however the body is split into chunks', async () => {
    const xml = await call('VM.get_all_records', session);
    const whole = decodeInPieces(xml, xml.length);
    for (const size of [1, 7, 4096]) expect(decodeInPieces(xml, size)).toEqual(whole);
  });

  it.each([
    // why: an entity split across two network chunks must still decode
    ['entities and references', '<value>a &amp; b &lt;c&gt; &#233;&#x41;</value>', 'a & b <c> éA'],
    ['typed scalars', '<value><array><data><value><int>-3</int></value><value><boolean>1</boolean></value><value><double>1.5</double></value><value><i8>9223372036854775807</i8></value><value><nil/></value></data></array></value>', [-3, true, 1.5, '9223372036854775807', null]],
    ['empty values', '<value/>', ''],
    ['empty struct and string', '<value><struct><member><name>k</name><value><string/></value></member></struct></value>', { k: '' }],
    ['CDATA', '<value><![CDATA[<raw> & text]]></value>', '<raw> & text'],
  ])('handles %s', (_why, fragment, expected) => {
    const xml = `<?xml version="1.0"?><methodResponse><params><param>${fragment}</param></params></methodResponse>`;
    expect(decodeInPieces(xml, 3)).toEqual(expected);
  });

  // A `<value>` or `<name>` whose text and closing tag are all in the chunk takes a short way
  // (no frame); split a byte at a time it never can. Both must agree, and with the reference where
  // it reads the document at all.
  it.each([
    ['names and values with entities', '<value><struct><member><name>a&amp;b</name><value>x &lt; y</value></member></struct></value>'],
    ['a value inside a value', '<value><value>inner</value></value>'],
    ['a comment or CDATA in a value', '<value><struct><member><name>k</name><value>a<!-- c -->b</value></member><member><name>c</name><value><![CDATA[<x>]]></value></member></struct></value>'],
    ['whitespace around typed content', '<value>\n  <string>s</string>\n</value>'],
    ['the value before its name', '<value><struct><member><value>v</value><name>k</name></member></struct></value>'],
    ['a closing tag of another name, accepted as before', '<value><struct><member><name>k</string><value>v</name></member></struct></value>'],
    ['empty names and values', '<value><struct><member><name></name><value></value></member></struct></value>'],
    // why: a name makes its value typed, which then delivers nothing: the reply has no result
    ['a name where a value belongs', '<value><name>x</name></value>'],
  ])('decodes %s the same whole and a byte at a time', (_why, fragment) => {
    const xml = `<?xml version="1.0"?><methodResponse><params><param>${fragment}</param></params></methodResponse>`;
    const outcome = (size: number) => {
      try {
        return { value: decodeInPieces(xml, size) };
      } catch (err) {
        return { error: (err as Error).message };
      }
    };
    expect(outcome(xml.length)).toEqual(outcome(1));
  });

  // Structs of a dozen members or more are built by a constructor made for their names (V8 keeps
  // them fast objects); what they hold and in what order must not change, whatever the names are.
  it.each([
    ['twenty plain names', Array.from({ length: 20 }, (_, i) => `f${i}`)],
    ['a repeated name (first place, last value)', [...Array.from({ length: 14 }, (_, i) => `f${i}`), 'f3']],
    ['__proto__ among them', [...Array.from({ length: 13 }, (_, i) => `f${i}`), '__proto__']],
    ['names that are no identifiers', ['a b', '"q"', "it's", '\\', '1', '0', '${x}', '});process.exit(1);({', 'ü ✓', 'constructor', 'toString', 'a\u2028b', '']],
  ])('decodes a struct with %s as the reference decoder does', async (_why, names) => {
    const members = names.map((n, i) => `<member><name>${n.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</name><value><int>${i}</int></value></member>`).join('');
    const xml = `<?xml version="1.0"?><methodResponse><params><param><value><array><data><value><struct>${members}</struct></value><value><struct>${members}</struct></value></data></array></value></param></params></methodResponse>`;
    const ours = decodeInPieces(xml, xml.length) as Record<string, unknown>[];
    const reference = (await referenceDecode(xml)) as Record<string, unknown>[];
    expect(ours).toEqual(reference);
    for (const rec of ours) {
      expect(Object.keys(rec)).toEqual(Object.keys(reference[0]!));
      expect(Object.getPrototypeOf(rec)).toBe(Object.prototype);
    }
    expect(({} as Record<string, unknown>).f0).toBeUndefined();
  });

  // Past 256 KB the decoder keeps short texts by their bytes and hands out one string per distinct
  // run: repeated, colliding, entity-bearing and boundary-length texts must all come out as written.
  it('decodes a large reply of repeated short texts as the reference decoder does', async () => {
    const pool = ['', 'OpaqueRef:NULL', 'Running', 'a &amp; b', 'café', 'x'.repeat(24), 'y'.repeat(25), '0', '1', 'ü✓'];
    const texts = Array.from({ length: 12_000 }, (_, i) => (i % 3 === 0 ? `u${i}` : pool[i % pool.length]!));
    const members = texts.map((t, i) => `<member><name>${i % 7 === 0 ? `n${i}` : pool[(i + 1) % pool.length]}</name><value>${t}</value></member>`);
    const xml = `<?xml version="1.0"?><methodResponse><params><param><value><array><data>${texts.map((t) => `<value>${t}</value>`).join('')}<value><struct>${members.join('')}</struct></value></data></array></value></param></params></methodResponse>`;
    expect(xml.length).toBeGreaterThan(512 * 1024);
    const whole = decodeInPieces(xml, xml.length);
    expect(whole).toEqual(await referenceDecode(xml));
    expect(decodeInPieces(xml, 65_536)).toEqual(whole);
  });

  it.each([
    ['cut inside a name', '<methodResponse><params><param><value><struct><member><name>ab'],
    ['cut after a value', '<methodResponse><params><param><value><struct><member><name>a</name><value>v</value>'],
  ])('refuses a body %s, whole or in pieces', (_why, xml) => {
    expect(() => decodeInPieces(xml, xml.length)).toThrow();
    expect(() => decodeInPieces(xml, 1)).toThrow();
  });

  it('decodes multi-byte characters split between network chunks', () => {
    const bytes = Buffer.from('<methodResponse><params><param><value>café ✓</value></param></params></methodResponse>');
    const dec = new XmlRpcResponseDecoder();
    for (let i = 0; i < bytes.length; i++) dec.write(bytes.subarray(i, i + 1));
    expect(dec.end().value).toBe('café ✓');
  });

  it('decodes a multi-megabyte string that arrives in many chunks, with characters and entities split between them', () => {
    const piece = 'café ✓ &amp; &lt;tag&gt; &#x1D11E; ';
    const text = piece.repeat(60_000); // ~2.4 MB of text in one value
    const expected = 'café ✓ & <tag> 𝄞 '.repeat(60_000);
    const bytes = Buffer.from(`<methodResponse><params><param><value><string>${text}</string></value></param></params></methodResponse>`);
    for (const size of [4093, 65_536, 100_003]) {
      const dec = new XmlRpcResponseDecoder();
      for (let i = 0; i < bytes.length; i += size) dec.write(bytes.subarray(i, i + size));
      expect(dec.end().value).toBe(expected);
    }
  });

  it.each([
    ['a body cut in the middle', '<methodResponse><params><param><value>abc'],
    ['something that is not XML-RPC', '<html><body>500</body></html>'],
  ])('refuses %s', (_why, xml) => {
    expect(() => decodeInPieces(xml, 5)).toThrow();
  });
});
