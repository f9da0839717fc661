import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalSource } from '../../src/source/local-source.js';
import { SourceError } from '../../src/source/types.js';

const roots: string[] = [];
const sources: LocalSource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.close();
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'xops-local-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

function source(dir: string, debounceMs = 50): LocalSource {
  const s = new LocalSource({ dir, debounceMs });
  sources.push(s);
  return s;
}

describe('LocalSource', () => {
  it('reads the manifests under the folder with forward-slash relative paths, and the small files they may name', async () => {
    const root = tree({
      'm/pool.yaml': 'p\n', 'm/vms/a.yml': 'a\n', 'm/notes.txt': 'x', 'outside.yaml': 'no\n',
      'm/.git/config': 'hidden', 'm/disk.img': 'x'.repeat(1024 * 1024 + 1),
    });
    const snapshot = await source(join(root, 'm')).sync();
    // Companion files of at most 1 MiB come along (a VM's cloudInit may name them); hidden and larger ones do not.
    expect(snapshot.files.map((f) => [f.path, f.content.toString()]).sort()).toEqual([
      ['notes.txt', 'x'],
      ['pool.yaml', 'p\n'],
      ['vms/a.yml', 'a\n'],
    ]);
    expect(snapshot.commit).toMatch(/^local:[0-9a-f]{16}$/);
  });

  it('names a revision by content: same files give the same commit, an edit gives a new one', async () => {
    const root = tree({ 'a.yaml': 'v: 1\n' });
    const s = source(root);
    const first = await s.sync();
    expect((await s.sync()).commit).toBe(first.commit);
    writeFileSync(join(root, 'a.yaml'), 'v: 2\n');
    expect((await s.sync()).commit).not.toBe(first.commit);
  });

  it('hands an unchanged file on as the same Buffer, and an edited one with its new bytes', async () => {
    const root = tree({ 'a.yaml': 'v: 1\n', 'b.yaml': 'same\n' });
    const s = source(root);
    const first = await s.sync();
    writeFileSync(join(root, 'a.yaml'), 'v: 2\n');
    const second = await s.sync();
    const byPath = (files: typeof first.files, path: string) => files.find((f) => f.path === path)!.content;
    expect(byPath(second.files, 'b.yaml')).toBe(byPath(first.files, 'b.yaml'));
    expect(byPath(second.files, 'a.yaml').toString()).toBe('v: 2\n');
    expect(byPath(first.files, 'a.yaml').toString()).toBe('v: 1\n');
  });

  it('refuses a symlink that leaves the folder, and follows one that stays inside', async () => {
    const root = tree({ 'm/real.yaml': 'r\n', 'secret.yaml': 's\n' });
    symlinkSync('real.yaml', join(root, 'm/alias.yaml'));
    expect((await source(join(root, 'm')).sync()).files.map((f) => f.path)).toEqual(['alias.yaml', 'real.yaml']);
    symlinkSync('../secret.yaml', join(root, 'm/leak.yaml'));
    const failure = await source(join(root, 'm')).sync().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as Error).message).toMatch(/leak.yaml: symlink to '..\/secret.yaml' leaves the manifests folder/);
  });

  it('reports a missing folder as a SourceError', async () => {
    await expect(source('/nonexistent/xops-manifests').sync()).rejects.toThrow(SourceError);
  });

  it('calls onChange once for a burst of edits, after the debounce', async () => {
    const root = tree({ 'a.yaml': 'v: 1\n' });
    const s = source(root, 150);
    let calls = 0;
    await s.watch(() => calls++);
    writeFileSync(join(root, 'a.yaml'), 'v: 2\n');
    writeFileSync(join(root, 'b.yaml'), 'new\n');
    writeFileSync(join(root, 'a.yaml'), 'v: 3\n');
    await waitFor(() => calls > 0, 3000);
    await new Promise((r) => setTimeout(r, 400));
    expect(calls).toBe(1);
  });
});

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
