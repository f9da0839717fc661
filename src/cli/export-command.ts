import { lstat, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { renderSchemas } from '../manifests/write-schemas.js';
import { KINDS } from '../manifests/index.js';
import { EXPORT_KINDS, exportManifests, formatNote, type ExportKind, type ExportNote, type ExportResult } from '../export/index.js';
import { parseCommandArgs, str } from './args.js';
import { CONNECTION_USAGE, connectionOptions, observePool } from './connection.js';
import { fsErrorInWords } from './errno.js';
import { UserError } from './errors.js';
import { alignOptions } from './usage.js';

const USAGE = alignOptions(`usage: xops export [--dir DIR] [--kinds K,K...] [--other-config] [--force] [connection options]

Writes manifests for what the pool already has, one resource per file, in the layout of examples/:
DIR/pool.yaml, DIR/networks/, DIR/storage/, DIR/vms/, DIR/appliances/ (and the JSON Schemas the
files' editor modelines point at, in DIR/schemas/). Nothing in the pool is changed.

  --dir DIR          where to write (default .); existing files are never overwritten...
  --force            ...unless this is given
  --kinds K,K...     only these kinds: ${EXPORT_KINDS.join(', ')} (default all)
  --other-config     also declare other_config keys (not xops' marks, not keys XAPI keeps itself)
  --out DIR          deprecated spelling of --dir (plan's --out is a format; 'xops export --out
                     json' is refused rather than creating a folder named json)

The exported objects are not managed by xops yet: 'xops plan DIR' shows each one as a conflict until
a Policy allows adoption (automation.adopt: true); then the plan shows only 'adopt' actions.

${CONNECTION_USAGE}`, 24);

/** `--kinds VM,SR`: checked against the kinds export writes (any letter case). */
export function parseKinds(value: unknown): ExportKind[] | undefined {
  if (value === undefined) return undefined;
  const kinds: ExportKind[] = [];
  for (const word of String(value).split(',').map((w) => w.trim()).filter(Boolean)) {
    const kind = EXPORT_KINDS.find((k) => k.toLowerCase() === word.toLowerCase());
    if (!kind) throw new UserError(`--kinds: '${word}' is not one of ${EXPORT_KINDS.join(', ')}`);
    if (!kinds.includes(kind)) kinds.push(kind);
  }
  if (kinds.length === 0) throw new UserError(`--kinds: name at least one of ${EXPORT_KINDS.join(', ')}`);
  return kinds;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function write(path: string, content: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  } catch (err) {
    throw new UserError(`cannot write ${path}: ${fsErrorInWords(err)}`);
  }
}

/** Writes the manifests (refusing to overwrite unless forced) and the schemas their modelines need (only if absent). */
async function writeExport(out: string, result: ExportResult, force: boolean): Promise<number> {
  if (!force) {
    const taken: string[] = [];
    for (const file of result.files) if (await exists(join(out, file.path))) taken.push(file.path);
    if (taken.length > 0) {
      const shown = taken.slice(0, 10).join(', ') + (taken.length > 10 ? `, and ${taken.length - 10} more` : '');
      throw new UserError(`refusing to overwrite ${taken.length} existing file(s) in ${out}: ${shown} (move them away, choose another --dir, or pass --force)`);
    }
  }
  for (const file of result.files) await write(join(out, file.path), file.content);
  const schemas = renderSchemas();
  const needed = new Set(result.files.map((f) => KINDS[f.address.slice(0, f.address.indexOf('/')) as ExportKind].schemaFile));
  let written = 0;
  for (const file of needed) {
    const path = join(out, 'schemas', file);
    if (!force && (await exists(path))) continue;
    await write(path, schemas.get(file)!);
    written++;
  }
  return written;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Notes shown per code before the rest are counted: a 10,000-VM pool must not print 10,000 alike lines. */
const NOTES_PER_CODE = 20;

function capped(notes: ExportNote[]): string[] {
  const shown = new Map<string, number>();
  const lines: string[] = [];
  for (const note of notes) {
    const n = (shown.get(note.code) ?? 0) + 1;
    shown.set(note.code, n);
    if (n <= NOTES_PER_CODE) lines.push(`  ${formatNote(note)}`);
  }
  for (const [code, n] of shown) if (n > NOTES_PER_CODE) lines.push(`  ... and ${n - NOTES_PER_CODE} more '${code}' notes like these`);
  return lines;
}

/** The summary printed after writing: counts, notes, and what to do next. */
export function summary(result: ExportResult, out: string, pool: string): string {
  const lines: string[] = [];
  const byKind = EXPORT_KINDS.map((k) => [k, result.files.filter((f) => f.address.startsWith(`${k}/`)).length] as const);
  lines.push(`exported ${plural(result.files.length, 'manifest')} from pool '${pool}' to ${out}: ${byKind.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const skipped = Object.entries(result.skipped);
  if (skipped.length > 0) lines.push(`left out (XAPI's own): ${skipped.map(([what, n]) => plural(n, what)).join(', ')}`);
  const warnings = result.notes.filter((n) => n.severity === 'warning');
  const infos = result.notes.filter((n) => n.severity === 'info');
  if (infos.length > 0) lines.push('', 'notes:', ...capped(infos));
  if (warnings.length > 0) lines.push('', `to do before adopting (${warnings.length}):`, ...capped(warnings));
  lines.push(
    '',
    'next:',
    `  1. xops validate ${out}`,
    '  2. these objects are not managed by xops yet: xops plan shows each one as a conflict until a',
    '     Policy allows adoption. Add one, e.g. policies/adopt.yaml:',
    '       apiVersion: xops/v1',
    '       kind: Policy',
    '       metadata: {name: adopt}',
    '       spec:',
    '         admission: []',
    '         automation: {adopt: true}',
    "     Adoption is also beyond the operator's default limits: pass --allow-adopt (or set",
    "     limits.adopt: true in the operator's configuration, --config).",
    `  3. xops plan ${out} --allow-adopt   (should show only 'adopt' actions), then xops apply ${out} --allow-adopt`,
  );
  return lines.join('\n') + '\n';
}

/** Output format names: `--out json` means a format elsewhere, never a folder here. */
const FORMAT_WORDS = new Set(['text', 'json', 'markdown', 'md', 'yaml', 'yml']);

/**
 * The folder to write to: `--dir`, or the deprecated `--out` (with a line on stderr saying so).
 * `--out json` and the like are refused, as a user who typed them meant a format.
 */
export function exportDir(values: Record<string, unknown>, warn: (line: string) => void): string {
  const dir = str(values.dir);
  const out = str(values.out);
  if (dir !== undefined && out !== undefined) throw new UserError('give --dir DIR only (--out is its deprecated spelling)');
  if (out !== undefined) {
    if (FORMAT_WORDS.has(out.toLowerCase())) {
      throw new UserError(`export writes manifests to a folder, not a format: use --dir DIR (refusing to create a folder named '${out}')`);
    }
    warn(`xops: export --out DIR is deprecated; use --dir ${out}`);
    return out;
  }
  return dir ?? '.';
}

/** `xops export [--dir DIR]`: manifests for what the pool already has. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    { dir: { type: 'string' }, out: { type: 'string' }, kinds: { type: 'string' }, 'other-config': { type: 'boolean' }, force: { type: 'boolean' }, ...connectionOptions },
    USAGE,
  );
  if (help) return 0;
  if (positionals.length > 0) throw new UserError(`export takes no positional arguments (use --dir DIR), got ${positionals.join(' ')} (see 'xops export --help')`);
  const kinds = parseKinds(values.kinds);
  const out = exportDir(values, (line) => void process.stderr.write(line + '\n'));

  const observed = await observePool(values);
  const result = exportManifests(observed, { kinds, otherConfig: values['other-config'] === true });
  await writeExport(out, result, values.force === true);
  const pool = [...observed.records.pool.values()][0]?.name_label ?? '?';
  process.stdout.write(summary(result, out, pool));
  return 0;
}
