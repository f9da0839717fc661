/**
 * `inWalkOrder` (manifests/folder.ts) must give a set's files in the order a folder read does: the
 * controller puts a client's changed files over its copy of a commit in that order (plan-api.ts
 * `from`), and the order of documents is the order a cold plan meets them in.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inWalkOrder, readManifestFolder } from '../../src/manifests/folder.js';
import { prng } from '../../bench/prng.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Names that sort differently as whole paths and as a walk: `-`, `.`, `!` sort before `/`. */
const PARTS = ['a', 'a-b', 'a.b', 'a!', 'ab', 'b', 'B', 'é', 'z-1', 'z'];

describe('inWalkOrder', () => {
  it('orders any set of paths as the folder walk reads them', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = prng(seed);
      const dir = mkdtempSync(join(tmpdir(), 'xops-walk-order-'));
      dirs.push(dir);
      const paths = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const depth = 1 + Math.floor(random() * 3);
        const segments = Array.from({ length: depth }, () => PARTS[Math.floor(random() * PARTS.length)]!);
        // A folder's name and a file's name never collide: files end in .yaml or .txt (a companion).
        const last = `${segments.pop()}${random() < 0.8 ? '.yaml' : '.txt'}`;
        paths.add([...segments, last].join('/'));
      }
      for (const p of paths) {
        try {
          mkdirSync(dirname(join(dir, p)), { recursive: true });
          writeFileSync(join(dir, p), '# x\n');
        } catch {
          // A file where a folder of another path goes: that path is left out.
        }
      }
      const read = (await readManifestFolder(dir)).files.map((f) => f.path);
      const shuffled = [...read].sort(() => random() - 0.5).map((path) => ({ path }));
      expect(inWalkOrder(shuffled).map((f) => f.path), `seed ${seed}`).toEqual(read);
    }
  });
});
