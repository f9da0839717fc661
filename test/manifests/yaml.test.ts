import { describe, expect, it } from 'vitest';
import { parseYaml, resolvePlain } from '../../src/manifests/yaml.js';
import { decodeManifest } from '../../src/manifests/decode.js';

const limits = { maxNodes: 10_000, maxDepth: 64 };

describe('parseYaml', () => {
  it('records where every value starts, by JSON path, including list items and quoted keys', () => {
    const text = ['a: 1', 'list:', '  - name: x', '    size: "20GiB"', 'labels:', '  app.kubernetes.io/name: web', ''].join('\n');
    const [doc] = parseYaml(text, 'f.yaml', limits).documents;
    const at = (p: string) => {
      const l = doc.locations.get(p);
      return l && `${l.line}:${l.col}`;
    };
    expect(at('a')).toBe('1:4');
    expect(at('list[0].name')).toBe('3:11');
    // A quoted scalar starts at its opening quote.
    expect(at('list[0].size')).toBe('4:11');
    expect(at('labels["app.kubernetes.io/name"]')).toBe('6:27');
    expect(doc.keyLocations.get('list[0].size')).toMatchObject({ line: 4, col: 5 });
  });

  it('splits multi-document files and skips empty documents', () => {
    const { documents } = parseYaml('---\na: 1\n---\n# nothing\n---\nb: 2\n', 'f.yaml', limits);
    expect(documents.map((d) => d.value)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(documents[1].start.line).toBe(6);
  });

  it('expands aliases into independent copies, so changing one place cannot change another', () => {
    const [doc] = parseYaml('base: &b {x: 1}\ncopy: *b\n', 'f.yaml', limits).documents;
    const value = doc.value as { base: { x: number }; copy: { x: number } };
    expect(value.copy).toEqual({ x: 1 });
    expect(value.copy).not.toBe(value.base);
  });

  it('keeps a __proto__ key as data instead of changing the object prototype', () => {
    const [doc] = parseYaml('__proto__: {polluted: true}\n', 'f.yaml', limits).documents;
    expect(Object.getPrototypeOf(doc.value)).toBe(Object.prototype);
    expect(Object.keys(doc.value as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('remembers the text of unquoted scalars that became numbers or booleans', () => {
    const [doc] = parseYaml('port: 0x10\nflag: true\nname: web\n', 'f.yaml', limits).documents;
    expect(doc.plainScalars.map((p) => [p.path, p.text])).toEqual([
      ['port', '0x10'],
      ['flag', 'true'],
    ]);
  });
});

describe('resolvePlain (YAML 1.2 core schema)', () => {
  it.each([
    ['yes stays text (YAML 1.1 would say true)', 'yes', 'yes'],
    ['on stays text', 'on', 'on'],
    ['NO (Norway) stays text', 'NO', 'NO'],
    ['012 is twelve, not octal ten', '012', 12],
    ['0o12 is octal', '0o12', 10],
    ['0x10 is hex', '0x10', 16],
    ['1e3 is a float', '1e3', 1000],
    ['~ is null', '~', null],
    ['True is a boolean', 'True', true],
    ['a version string stays text', '4.1.2', '4.1.2'],
  ])('%s', (_why, text, value) => {
    expect(resolvePlain(text)).toBe(value);
  });
});

describe('decodeManifest', () => {
  it('drops a UTF-8 BOM', () => {
    expect(decodeManifest(Buffer.from('\ufeffa: 1', 'utf8'))).toEqual({ ok: true, text: 'a: 1' });
  });

  it('decodes UTF-16LE and UTF-16BE with a BOM', () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a: é', 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    expect(decodeManifest(le)).toEqual({ ok: true, text: 'a: é' });
    expect(decodeManifest(be)).toEqual({ ok: true, text: 'a: é' });
  });

  it('refuses overlong encodings, which can smuggle characters past naive checks', () => {
    // 0xC0 0xAF is an overlong '/'.
    const result = decodeManifest(Buffer.from([0x61, 0x0a, 0x62, 0xc0, 0xaf]));
    expect(result).toMatchObject({ ok: false, line: 2, col: 2 });
  });
});
