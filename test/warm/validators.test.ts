/**
 * The schema validators are generated ahead of time (ajv standalone code), so they must be exactly
 * what compiling the kinds' current schemas gives; and the loader's messages must still come out
 * of them (parentSchema keywords, allErrors).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifestFiles } from '../../src/manifests/index.js';
import { renderValidators, VALIDATORS_FILE } from '../../src/manifests/write-validators.js';
import { ROOT } from '../cli/helpers.js';

describe('generated validators', () => {
  it(`${VALIDATORS_FILE} matches the kinds' schemas (regenerate: npm run schemas)`, async () => {
    expect(await readFile(join(ROOT, VALIDATORS_FILE), 'utf8')).toBe(renderValidators());
  });

  it('report every problem of a document with the schema-aware messages', () => {
    const text = 'apiVersion: xops/v1\nkind: VM\nmetadata: {name: a}\nspec:\n  templat: Debian\n  vcpus: many\n';
    const { diagnostics } = loadManifestFiles([{ path: 'a.yaml', content: Buffer.from(text) }], '.');
    const messages = diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
    expect(messages).toEqual([
      "missing required field 'memory'",
      "unknown field 'templat' (did you mean 'template'?)",
      "must be a whole number, not text 'many'",
    ]);
  });
});
