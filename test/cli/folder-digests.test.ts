/**
 * `plan --server` names a folder's files by digest from an index in the user's cache, reading only
 * what changed since the last run (src/cli/folder-digests.ts). The files and digests must be those
 * of reading the folder, and no change may go unseen: an edit, an edit that keeps the size and the
 * modification time, a change in the same moment the index was written, a new or removed file.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { folderByDigest } from '../../src/cli/folder-digests.js';
import { fileDigest } from '../../src/manifests/file-digest.js';
import { readManifestFolder } from '../../src/manifests/index.js';
import { ROOT } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const HOUR_AGO = () => new Date(Date.now() - 3600_000);

/** The examples, every file dated an hour back (long before any index is written). */
function folder(): { dir: string; index: string } {
  const work = mkdtempSync(join(tmpdir(), 'xops-digests-'));
  dirs.push(work);
  const dir = join(work, 'repo');
  cpSync(join(ROOT, 'examples'), dir, { recursive: true });
  // A file a manifest may name (cloud-init user-data) travels too.
  writeFileSync(join(dir, 'vms', 'web.user-data'), '#cloud-config\nhostname: web\n');
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) utimesSync(join(f.parentPath, f.name), HOUR_AGO(), HOUR_AGO());
  }
  return { dir, index: join(work, 'cache') };
}

async function asRead(dir: string): Promise<{ path: string; sha256: string }[]> {
  return (await readManifestFolder(dir)).files.map((f) => ({ path: f.path, sha256: fileDigest(f.content) }));
}

async function viaIndex(dir: string, index: string) {
  const r = await folderByDigest(dir, index);
  return { files: r.files.map((f) => ({ path: f.path, sha256: f.sha256 })), read: r.read, contents: r.files.map((f) => f.content()) };
}

describe('a folder by digest', () => {
  it('names the files reading the folder finds, with the digests of their bytes, and reads each only once', async () => {
    const { dir, index } = folder();
    const first = await viaIndex(dir, index);
    const expected = await asRead(dir);
    expect(first.files).toEqual(expected);
    expect(first.files.some((f) => !f.path.endsWith('.yaml'))).toBe(true); // a companion (cloud-init user-data)
    expect(first.read).toBe(expected.length);
    expect(first.contents.map(fileDigest)).toEqual(expected.map((f) => f.sha256));
    const second = await viaIndex(dir, index);
    expect(second.files).toEqual(expected);
    expect(second.read).toBe(0);
    // The bytes, when the controller asks for them, are the file's.
    expect(second.contents.map(fileDigest)).toEqual(expected.map((f) => f.sha256));
  });

  it('sees an edit, one that keeps size and modification time, a file added and one removed', async () => {
    const { dir, index } = folder();
    await viaIndex(dir, index);
    const vm = join(dir, 'vms', 'db-01.yaml');
    writeFileSync(vm, readFileSync(vm, 'utf8').replace('vcpus: 4', 'vcpus: 6'));
    utimesSync(vm, HOUR_AGO(), HOUR_AGO());
    const app = join(dir, 'vms', 'app-01.yaml');
    const same = readFileSync(app, 'utf8').replace('vcpus: 4', 'vcpus: 5');
    const { mtime } = statSync(app);
    writeFileSync(app, same);
    utimesSync(app, mtime, mtime); // same size, same mtime: only its ctime tells
    writeFileSync(join(dir, 'vms', 'new.yaml'), 'apiVersion: xops/v1\nkind: Network\nmetadata: {name: n}\nspec: {}\n');
    utimesSync(join(dir, 'vms', 'new.yaml'), HOUR_AGO(), HOUR_AGO());
    rmSync(join(dir, 'disks', 'app-data.yaml'));
    const after = await viaIndex(dir, index);
    expect(after.files).toEqual(await asRead(dir));
    expect(after.read).toBe(3);
  });

  it('reads again a file changed around the time the index was written (its time cannot tell)', async () => {
    const { dir, index } = folder();
    const vm = join(dir, 'vms', 'db-01.yaml');
    writeFileSync(vm, readFileSync(vm, 'utf8') + '# now\n');
    await viaIndex(dir, index);
    expect((await viaIndex(dir, index)).read).toBe(1);
  });

  it('works without an index, and with a broken one', async () => {
    const { dir, index } = folder();
    const expected = await asRead(dir);
    expect((await folderByDigest(dir, undefined)).files.map((f) => ({ path: f.path, sha256: f.sha256 }))).toEqual(expected);
    await viaIndex(dir, index);
    for (const f of readdirSync(index)) writeFileSync(join(index, f), '{"version": 1, "writtenAt": 0, "files": nonsense');
    const broken = await viaIndex(dir, index);
    expect(broken.files).toEqual(expected);
    expect(broken.read).toBe(expected.length);
  });
});
