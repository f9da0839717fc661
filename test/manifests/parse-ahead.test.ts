/**
 * Parse-ahead (src/manifests/parse-ahead.ts): a folder read, parsed and checked before the pool is
 * known, on a worker thread or on the main thread in batches, must load exactly as the folder read
 * and loaded afterwards: the same desired state and the same diagnostics in the same order, however
 * the files are broken and however the batches fall. The worker is the compiled one in dist/
 * (`npm test` builds first): a worker thread runs JavaScript, not TypeScript sources.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize, deserialize } from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifests, type LiveInventory } from '../../src/manifests/index.js';
import { loadPrepared, startParseAhead, PreparedParses, type ParseAheadOptions } from '../../src/manifests/parse-ahead.js';
import { decodeParses, encodeParses, type TransferredParse } from '../../src/manifests/parse-transfer.js';
import { parseYaml } from '../../src/manifests/yaml.js';
import { repositoryLimits } from '../../src/source/limits.js';
import { ROOT } from '../cli/helpers.js';

const WORKER = new URL('../../dist/src/manifests/parse-ahead-worker.js', import.meta.url);
const live: LiveInventory = { has: (_kind, name) => !name.startsWith('missing') };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** JSON with Maps as their entries in order, so that order differences show. */
function ordered(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Map ? { map: [...v.entries()] } : v instanceof Buffer ? v.toString('latin1') : v));
}

const vm = (name: string, extra = '') =>
  `apiVersion: xops/v1\nkind: VM\nmetadata:\n  name: ${name}\nspec:\n  template: Debian Bookworm 12\n  vcpus: 2\n  memory: 1GiB\n  networks:\n    - network: ${extra || 'Pool-wide network associated with eth0'}\n`;

/** The examples, plus files that exercise every kind of problem the loader reports. */
function trickyFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xops-parse-ahead-'));
  dirs.push(dir);
  cpSync(join(ROOT, 'examples'), dir, { recursive: true });
  mkdirSync(join(dir, 'more'));
  const files: Record<string, string> = {
    // A syntax error, a schema error, an unknown kind, a duplicate key, a name declared twice in
    // two files (the second in another batch), a reference to nothing, an alias, a `__proto__` key,
    // unicode, numbers YAML reads as non-strings, and two documents in one file.
    'more/a-syntax.yaml': 'apiVersion: xops/v1\nkind: VM\nmetadata: [unclosed\n',
    'more/b-schema.yaml': vm('b-schema').replace('vcpus: 2', 'vcpus: lots'),
    'more/c-kind.yaml': 'apiVersion: xops/v1\nkind: Vm\nmetadata:\n  name: c\nspec: {}\n',
    'more/d-dupkey.yaml': vm('d-dupkey').replace('vcpus: 2', 'vcpus: 2\n  vcpus: 3'),
    'more/e-twice.yaml': vm('twice'),
    'more/z-twice.yaml': vm('twice'),
    'more/f-dangling.yaml': vm('f-dangling', 'missing-network'),
    'more/g-alias.yaml': `apiVersion: xops/v1\nkind: VM\nmetadata:\n  name: g-alias\n  labels: &l { tier: "wëb ✓", __proto__: x }\n  annotations: *l\nspec:\n  template: Debian Bookworm 12\n  vcpus: 0x2\n  memory: 1GiB\n`,
    'more/h-two.yaml': `${vm('h-one')}---\n${vm('h-two')}`,
    'more/i-empty.yaml': '',
    'more/j-not-a-map.yaml': '- just\n- a list\n',
  };
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  writeFileSync(join(dir, 'more/k-latin1.yaml'), Buffer.from([0x6b, 0x69, 0x6e, 0x64, 0x3a, 0x20, 0xe9, 0x0a]));
  // A link out of the folder is refused with a diagnostic, whoever reads the folder.
  symlinkSync(tmpdir(), join(dir, 'escape'));
  return dir;
}

/** loadManifests after a parse-ahead with `options`, and what it prepared. */
async function loadAhead(dir: string, options: ParseAheadOptions) {
  const ahead = startParseAhead(dir, options);
  const prepared = await ahead.prepared();
  await ahead.stop();
  expect(prepared).toBeDefined();
  return { prepared: prepared!, result: await loadManifests(dir, { live, cache: prepared!.cache }, prepared!.read) };
}

describe('parse-ahead', () => {
  const dir = trickyFolder();

  it.each<[string, ParseAheadOptions]>([
    ['on a worker thread, the main thread taking batches too', { worker: true, workerUrl: WORKER, batchFiles: 2 }],
    ['on a worker thread alone', { worker: true, workerUrl: WORKER, mainThreadBatches: false, batchFiles: 3 }],
    ['on the main thread alone', { worker: false, batchFiles: 2 }],
  ])('loads a folder with every kind of problem exactly as a plain load, %s', async (_how, options) => {
    const plain = await loadManifests(dir, { live });
    // The fixture holds what it says: errors of each kind, so equal results are not trivially equal.
    const codes = new Set(plain.diagnostics.map((d) => d.code));
    for (const code of ['yaml-syntax', 'unknown-kind', 'duplicate-name', 'dangling-ref', 'symlink-escape', 'encoding']) expect(codes).toContain(code);
    const { prepared, result } = await loadAhead(dir, options);
    expect(ordered(result)).toBe(ordered(plain));
    expect(result).toStrictEqual(plain);
    // The work was done ahead: every file the loader could parse was handed over parsed.
    const parsable = prepared.read.files.filter((f) => /\.ya?ml$/.test(f.path) && f.path !== 'more/k-latin1.yaml').length;
    expect((prepared.cache as PreparedParses).size).toBe(parsable);
  });

  it('reports a folder that cannot be read as a plain load does, in either mode', async () => {
    const missing = join(dir, 'no-such-folder');
    const plain = await loadManifests(missing, { live });
    expect(plain.diagnostics.map((d) => d.code)).toEqual(['folder']);
    for (const options of [{ worker: true, workerUrl: WORKER }, { worker: false }]) expect((await loadAhead(missing, options)).result).toStrictEqual(plain);
  });

  it('gives undefined, not an error, when the worker cannot start: the caller loads the folder itself', async () => {
    const ahead = startParseAhead(dir, { worker: true, workerUrl: new URL('./no-such-worker.js', WORKER) });
    expect(await ahead.prepared()).toBeUndefined();
  });

  it('loadPrepared loads as a plain load, prepared or not, and lets go of the parses after', async () => {
    const plain = await loadManifests(dir, { live });
    for (const options of [{ worker: false }, { worker: true, workerUrl: new URL('./no-such-worker.js', WORKER) }]) {
      const ahead = startParseAhead(dir, options);
      expect(await loadPrepared(ahead, dir, { live })).toStrictEqual(plain);
      expect(await ahead.prepared()).toBeUndefined();
    }
  });

  it('gives undefined once stopped', async () => {
    const ahead = startParseAhead(dir, { worker: false });
    await ahead.stop();
    expect(await ahead.prepared()).toBeUndefined();
  });

  it('finds no parse for a file whose bytes or limits differ: the loader parses that one afresh', async () => {
    const { prepared } = await loadAhead(dir, { worker: false });
    const file = prepared.read.files.find((f) => f.path === 'more/e-twice.yaml')!;
    const defaults = repositoryLimits();
    const limits = { maxNodes: defaults.maxFileNodes, maxDepth: defaults.maxDepth };
    expect(prepared.cache.parsed(file, limits)).toBeDefined();
    expect(prepared.cache.parsed({ path: file.path, content: Buffer.from(file.content) }, limits)).toBeDefined();
    expect(prepared.cache.parsed({ path: file.path, content: Buffer.from(vm('changed')) }, limits)).toBeUndefined();
    expect(prepared.cache.parsed(file, { ...limits, maxDepth: 3 })).toBeUndefined();
  });
});

describe('parse transfer', () => {
  const text = [
    'a: &x { k: [1, 2, {deep: "ü ✓ \\u00e9"}] }',
    'b: *x',
    '__proto__: { polluted: true }',
    'n: [0x1f, 1e3, .nan, -.inf, ~, true, 123456789012345678901234567890]',
    'dup: 1',
    'dup: 2',
    '---',
    'second: doc',
  ].join('\n');

  it('gives back each parse field for field, locations in order', () => {
    const result = parseYaml(text, 'dir/f.yaml', { maxNodes: 1000, maxDepth: 20 });
    expect(result.documents).toHaveLength(2);
    expect(result.documents[0]!.diagnostics.length).toBeGreaterThan(0); // the duplicate key
    const parses: TransferredParse[] = [{ path: 'dir/f.yaml', nodes: 42, result, checks: [{ diagnostics: [], errors: 0, schemaValid: true }, undefined] }];
    // Through structured clone, as postMessage sends it.
    const back = decodeParses(deserialize(serialize(encodeParses(parses))));
    expect(ordered(back)).toBe(ordered(parses));
    expect(back).toStrictEqual(parses);
    const value = back[0]!.result.documents[0]!.value as Record<string, unknown>;
    const original = result.documents[0]!.value as Record<string, unknown>;
    expect(value.a === value.b).toBe(original.a === original.b);
    expect(Object.hasOwn(value, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // One file's locations share its path: the copy is no larger than the original.
    const locs = [...back[0]!.result.documents[0]!.locations.values()];
    expect(new Set(locs.map((l) => l.file))).toEqual(new Set(['dir/f.yaml']));
  });

  it('sends a location of another shape as it is', () => {
    const result = parseYaml('a: 1\n', 'f.yaml', { maxNodes: 100, maxDepth: 10 });
    const doc = result.documents[0]!;
    doc.locations.set('odd', { file: 'other.yaml', line: 1, col: 1 });
    const parses: TransferredParse[] = [{ path: 'f.yaml', nodes: 2, result, checks: [undefined] }];
    expect(ordered(decodeParses(deserialize(serialize(encodeParses(parses)))))).toBe(ordered(parses));
  });
});
