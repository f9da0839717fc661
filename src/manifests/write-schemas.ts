/**
 * The JSON Schemas in `schemas/` are generated from the kind definitions, so that editors and the
 * loader can never disagree. Run `node dist/src/manifests/write-schemas.js` after changing a kind;
 * a test fails while the files are out of date.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { KIND_REGISTRY } from '../kinds/index.js';

/** File name → file text, for every kind. */
export function renderSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const def of KIND_REGISTRY) out.set(def.schemaFile, JSON.stringify(def.schema, null, 2) + '\n');
  return out;
}

async function main(): Promise<void> {
  // dist/src/manifests/ → the repository root.
  const root = new URL('../../../', import.meta.url);
  for (const [file, text] of renderSchemas()) {
    const target = new URL(`schemas/${file}`, root);
    await writeFile(target, text);
    process.stdout.write(`wrote ${fileURLToPath(target)}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
