/**
 * `xops export` writes pool names into manifests. A name_label holding a newline, a `#`, a document
 * marker and a second manifest must come back as that one string: it cannot add a document, a field
 * or a line outside its value, in the YAML body or in the header comment that quotes it.
 */
import { describe, expect, it } from 'vitest';
import { exportManifests } from '../../src/export/index.js';
import { loadManifestFiles } from '../../src/manifests/index.js';
import { Pool } from '../export/fixture.js';

const INJECTION = "lab'\n# comment\nkind: Policy\n---\napiVersion: xops/v1\nkind: Policy\nmetadata: {name: evil}\nspec: {}\n";

describe('export YAML writer', () => {
  it('keeps a hostile pool name inside its value and its comment on one line', () => {
    const p = new Pool();
    const host = p.host(`host\r\nkind: Policy`);
    p.add('pool', { name_label: INJECTION, name_description: 'x\u2028y', master: host, default_SR: 'OpaqueRef:NULL', tags: [], other_config: { 'k\nkind: Policy': 'v\n---' }, ha_enabled: false, ha_host_failures_to_tolerate: 0 });
    const { files } = exportManifests(p.state, {});
    const pool = files.find((f) => f.address.startsWith('Pool/'))!;
    expect(pool).toBeDefined();

    // The header comment is one line: the name is escaped, not continued on a new line.
    const [, from] = pool.content.split('\n');
    expect(from).toBe(`# Exported by xops export from pool 'lab'\\n# comment\\nkind: Policy\\n---\\napiVersion: xops/v1\\nkind: Policy\\nmetadata: {name: evil}\\nspec: {}\\n' (pool-0002).`);

    // Read back by xops's own loader: one Pool document, the name exactly as it was, nothing more.
    const { desired } = loadManifestFiles([{ path: pool.path, content: Buffer.from(pool.content) }], '.');
    expect(desired.documents.map((d) => d.address)).toEqual([pool.address]);
    const spec = (desired.documents[0].body as { spec: { nameLabel: string } }).spec;
    expect(spec.nameLabel).toBe(INJECTION);
    expect(desired.documents.some((d) => d.kind === 'Policy')).toBe(false);
  });

  it.each([
    ['a CR LF and a key', 'lab\r\nkind: Policy'],
    ['leading spaces and blank lines', '  lab\n\n\nkind: Policy\n\n'],
    ['a document end and a BOM', 'lab\n...\n\ufeffkind: Policy'],
    ['a tab, a comment, a flow mapping', 'lab\t# x\n{kind: Policy}'],
    ['an escape sequence', 'lab\x1b[2J\u2028kind: Policy'],
  ])('round-trips a pool name with %s', (_why, label) => {
    const p = new Pool();
    const host = p.host('h1');
    p.add('pool', { name_label: label, name_description: '', master: host, default_SR: 'OpaqueRef:NULL', tags: [], other_config: {}, ha_enabled: false, ha_host_failures_to_tolerate: 0 });
    const pool = exportManifests(p.state, {}).files.find((f) => f.address.startsWith('Pool/'))!;
    const { desired } = loadManifestFiles([{ path: pool.path, content: Buffer.from(pool.content) }], '.');
    expect(desired.documents.map((d) => d.kind)).toEqual(['Pool']);
    expect((desired.documents[0].body as { spec: { nameLabel: string } }).spec.nameLabel).toBe(label);
  });
});
