/** Reading a real folder: symlinks, hidden entries, loops and missing folders, on a temp tree. */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/manifests/index.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';

const net = (name: string) => `apiVersion: xops/v1\nkind: Network\nmetadata: {name: ${name}}\nspec: {}\n`;

let base: string;
let root: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'xops-manifests-'));
  root = join(base, 'repo');
  await mkdir(join(root, 'networks'), { recursive: true });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('loadManifests (folder)', () => {
  it('reads .yaml and .yml files in subfolders, skipping hidden folders and other files', async () => {
    await writeFile(join(root, 'networks', 'a.yaml'), net('a'));
    await writeFile(join(root, 'b.yml'), net('b'));
    await mkdir(join(root, '.github', 'workflows'), { recursive: true });
    await writeFile(join(root, '.github', 'workflows', 'ci.yaml'), 'on: push\n');
    await writeFile(join(root, 'notes.txt'), 'kind: VM\n');
    const { desired, diagnostics } = await loadManifests(root);
    expect(diagnostics).toEqual([]);
    expect(desired.networks.map((n) => `${n.meta.source.file}:${n.meta.name}`)).toEqual(['b.yml:b', 'networks/a.yaml:a']);
    expect(desired.source).toEqual({ commit: 'local', path: root });
  });

  it('refuses symlinks that leave the folder, for files and for folders', async () => {
    await writeFile(join(base, 'outside.yaml'), net('outside'));
    await mkdir(join(base, 'elsewhere'));
    await writeFile(join(base, 'elsewhere', 'c.yaml'), net('c'));
    await symlink(join(base, 'outside.yaml'), join(root, 'leak.yaml'));
    await symlink(join(base, 'elsewhere'), join(root, 'more'));
    const { desired, diagnostics } = await loadManifests(root);
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      'leak.yaml:1:1: symlink points outside the manifests folder; refusing to follow it',
      'more:1:1: symlink points outside the manifests folder; refusing to follow it',
    ]);
    expect(desired.networks).toEqual([]);
  });

  it('follows symlinks that stay inside, and survives a link back up the tree', async () => {
    await writeFile(join(root, 'networks', 'a.yaml'), net('a'));
    await symlink(join(root, 'networks', 'a.yaml'), join(root, 'alias.yaml'));
    await symlink(root, join(root, 'networks', 'loop'));
    const { desired, diagnostics } = await loadManifests(root);
    // The same document read twice through the link is a duplicate name, reported, not a hang.
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      "networks/a.yaml:3:18: Network/a: metadata.name: Network 'a' is declared twice (first at alias.yaml:2)",
    ]);
    expect(desired.networks).toHaveLength(1);
  });

  it('reports a missing folder as one diagnostic', async () => {
    const { diagnostics } = await loadManifests(join(base, 'nope'));
    expect(diagnostics.map(formatDiagnostic)).toEqual([`cannot read manifests folder '${join(base, 'nope')}': ENOENT`]);
  });
});
