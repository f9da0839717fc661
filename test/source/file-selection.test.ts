import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { simpleGit } from 'simple-git';
import { afterEach, describe, expect, it } from 'vitest';
import { manifestFilesAt } from '../../src/cli/diff-command.js';
import { GitSource } from '../../src/source/git-source.js';
import { LocalSource } from '../../src/source/local-source.js';
import { isManifestPath, loadManifestFiles, readManifestFolder } from '../../src/manifests/index.js';
import { GitFixture } from './git-fixture.js';

// `xops plan` reads a folder, `xops diff` a commit, the controller a Git source or a watched folder:
// the same manifests must come out of all four, or a pull request's plan would not be what the
// controller applies.

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const TREE: Record<string, string> = {
  'vms/web.yaml': 'kind: VM\n',
  'shared/db.yaml': 'kind: VM # linked below\n',
  '.github/workflows/ci.yaml': 'on: push\n',
  'vms/.draft.yaml': 'kind: VM # hidden: not a manifest\n',
  'README.md': 'not a manifest\n',
};

function populate(root: string): void {
  for (const [path, content] of Object.entries(TREE)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  symlinkSync('../shared/db.yaml', join(root, 'vms/db.yaml'));
}

const EXPECTED = ['shared/db.yaml', 'vms/db.yaml', 'vms/web.yaml'];

describe('which files are manifests', () => {
  it('is the same for a folder, a watched folder, a Git source and xops diff', async () => {
    const f = new GitFixture('main');
    cleanups.push(() => f.cleanup());
    populate(f.work);
    const commit = f.commit('tree');

    const folder = await readManifestFolder(f.work);
    const local = new LocalSource({ dir: f.work });
    cleanups.push(() => void local.close());
    const fromLocal = await local.sync();
    const fromGit = await new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot }).sync();
    const fromDiff = await manifestFilesAt(simpleGit(f.work), f.work, commit, '');

    // What each hands on, after the loader's own selection (sources may hand on more; it decides).
    const selected = (files: { path: string }[]) => files.map((x) => x.path).filter(isManifestPath).sort();
    expect(selected(folder.files)).toEqual(EXPECTED);
    expect(selected(fromLocal.files)).toEqual(EXPECTED);
    expect(selected(fromGit.files)).toEqual(EXPECTED);
    expect(selected(fromDiff)).toEqual(EXPECTED);
  });

  it('leaves hidden paths out even when a source hands them to the loader', () => {
    const vm = 'apiVersion: xops/v1\nkind: VM\nmetadata: {name: x}\nspec: {template: T, vcpus: 1, memory: 1GiB}\n';
    const { desired, diagnostics } = loadManifestFiles(
      [{ path: '.github/x.yaml', content: Buffer.from(vm) }, { path: 'vms/.draft.yaml', content: Buffer.from(vm) }],
      'repo',
    );
    expect(diagnostics).toEqual([]);
    expect(desired.documents).toEqual([]);
  });
});
