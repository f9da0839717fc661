/**
 * The bad-input corpus: each folder under corpus/ is a small manifests repository with one class of
 * mistake. `why.txt` says why the case exists, `expected.txt` lists every diagnostic the loader must
 * report (formatted `file:line:col: Kind/name: path: message`, in order), and an optional
 * `options.json` gives a live inventory or limits. Set XOPS_UPDATE_CORPUS=1 to rewrite expected.txt
 * files after a deliberate message change (and review the diff).
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests, type LiveInventory, type LiveKind, type ManifestLimits } from '../../src/manifests/index.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';

const CORPUS = join(import.meta.dirname, 'corpus');
const cases = readdirSync(CORPUS).sort();

interface CaseOptions {
  live?: Partial<Record<LiveKind, string[]>>;
  limits?: Partial<ManifestLimits>;
}

function inventory(live: Partial<Record<LiveKind, string[]>>): LiveInventory {
  return { has: (kind, name) => (live[kind] ?? []).includes(name) };
}

describe('bad-input corpus', () => {
  it('has at least 30 cases, each saying why it exists', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    for (const name of cases) expect(readFileSync(join(CORPUS, name, 'why.txt'), 'utf8'), name).toMatch(/^# \S/);
  });

  for (const name of cases) {
    const dir = join(CORPUS, name);
    const why = readFileSync(join(dir, 'why.txt'), 'utf8').replace(/^# /, '').trim();
    it(`${name}: ${why}`, async () => {
      const optionsFile = join(dir, 'options.json');
      const options: CaseOptions = existsSync(optionsFile) ? JSON.parse(readFileSync(optionsFile, 'utf8')) : {};
      const { diagnostics } = await loadManifests(dir, {
        ...(options.live ? { live: inventory(options.live) } : {}),
        ...(options.limits ? { limits: options.limits } : {}),
      });
      const actual = diagnostics.map(formatDiagnostic);
      const expectedFile = join(dir, 'expected.txt');
      if (process.env.XOPS_UPDATE_CORPUS) writeFileSync(expectedFile, actual.join('\n') + '\n');
      const expected = readFileSync(expectedFile, 'utf8').split('\n').filter((line) => line !== '');
      // Every case is a bad input: at least one diagnostic, each with a file and line to fix.
      expect(expected.length).toBeGreaterThan(0);
      expect(actual).toEqual(expected);
      // Only problems with the repository as a whole (too many files) may lack a file.
      for (const d of diagnostics) if (d.code !== 'too-many-files') expect(d.location?.file, formatDiagnostic(d)).toBeTruthy();
    });
  }
});
