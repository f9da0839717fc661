/**
 * `xops export`: manifests for what a pool already has, so an operator can bring an existing pool
 * under xops. Pure: a snapshot in, file texts and notes out; the CLI does the writing.
 */
import type { ObservedState, XapiRecord } from '../model/observed.js';
import { KIND_REGISTRY, KINDS } from '../kinds/index.js';
import type { Candidate, Chosen, ExportContext, ExportKind, ExportOptions } from './context.js';
import { createExportContext } from './context.js';
import type { KindExporter } from './manifest-doc.js';
import { NameAllocator, sanitiseName } from './names.js';
import type { ExportNote } from './notes.js';
import { renderManifest } from './render.js';

export type { ExportKind, ExportOptions } from './context.js';
export { formatNote, type ExportNote } from './notes.js';
export { sanitiseName } from './names.js';

/** One file to write, relative to the output folder (forward slashes). */
export interface ExportFile {
  path: string;
  content: string;
  /** `Kind/name` of the manifest in the file. */
  address: string;
}

/** What an export produced. */
export interface ExportResult {
  /** One manifest per file, in kind order then by name. */
  files: ExportFile[];
  /** Objects left out, names that changed, values the operator must fill in. */
  notes: ExportNote[];
  /** Objects left out without a note each, counted by what they are, singular (`template` → 5). */
  skipped: Record<string, number>;
}

/** Every kind with an exporter, in registry order (the order files are listed in). */
const EXPORTERS: readonly KindExporter[] = KIND_REGISTRY.flatMap((k) => (k.export ? [k.export] : []));

/** The kinds `xops export` writes, in the order their files are listed. */
export const EXPORT_KINDS: readonly ExportKind[] = EXPORTERS.map((e) => e.kind);

/**
 * Turns a pool snapshot into manifests in the layout of `examples/`: `pool.yaml`, `networks/`,
 * `storage/`, `vms/`, `appliances/`, one resource per file. Loaded back and planned with adoption
 * allowed, they plan as `adopt` actions only: export is faithful, or says in a note why not.
 * Deterministic: the same pool gives the same files.
 */
export function exportManifests(observed: ObservedState, options: ExportOptions = {}): ExportResult {
  const ctx = createExportContext(observed, options, EXPORTERS);
  const exporters = EXPORTERS.filter((e) => ctx.kinds.has(e.kind));
  // Every object is named before any manifest is built, so that references can use manifest names.
  const chosenByKind = new Map<ExportKind, Chosen[]>();
  for (const exporter of exporters) chosenByKind.set(exporter.kind, nameCandidates(ctx, exporter, exporter.select(ctx)));
  const files: ExportFile[] = [];
  for (const exporter of exporters) {
    const kind = exporter.kind;
    for (const chosen of chosenByKind.get(kind)!) {
      const doc = exporter.build(ctx, chosen);
      files.push({ path: doc.file, content: renderManifest(doc, ctx.schemaDir, KINDS[kind].schemaFile), address: `${kind}/${doc.name}` });
    }
  }
  return { files, notes: ctx.notes, skipped: Object.fromEntries(ctx.skipped) };
}

function labelOf(record: XapiRecord): string {
  return typeof record['name_label'] === 'string' ? record['name_label'] : '';
}

/**
 * Gives each candidate a valid, unique manifest name (in name_label then uuid order, so names are
 * stable), notes every name that differs from the XAPI name, and warns about XAPI names shared by
 * several objects: adoption matches by name_label, so xops could not tell them apart.
 */
function nameCandidates(ctx: ExportContext, exporter: KindExporter, candidates: Candidate[]): Chosen[] {
  const kind = exporter.kind;
  const sorted = [...candidates].sort((a, b) => labelOf(a.record).localeCompare(labelOf(b.record)) || a.record.uuid.localeCompare(b.record.uuid));
  const allocator = new NameAllocator();
  const byLabel = new Map<string, Chosen[]>();
  for (const candidate of sorted) {
    const label = labelOf(candidate.record);
    const single = exporter.singleFile;
    const base = sanitiseName(label || (single?.fallbackName ?? '')) || `${kind.toLowerCase()}-${candidate.record.uuid.slice(0, 8)}`;
    const name = allocator.allocate(base);
    // A singleton kind's one manifest sits at the top of the folder (pool.yaml, as in examples/).
    const chosen: Chosen = { ...candidate, kind, name, file: single ? single.file : `${exporter.folder}/${name}.yaml` };
    ctx.chosen.set(candidate.ref, chosen);
    ctx.names.get(kind)!.add(name);
    if (name !== label) {
      const why = base === label ? 'another object already has that name' : label === '' ? 'it has no name' : `'${label}' is not a valid manifest name`;
      ctx.notes.push({
        severity: 'info', code: 'renamed', file: chosen.file, address: `${kind}/${name}`, path: 'metadata.name',
        message: `named '${name}' because ${why} (spec.nameLabel keeps the XAPI name)`,
      });
    }
    byLabel.set(label, [...(byLabel.get(label) ?? []), chosen]);
  }
  for (const [label, group] of byLabel) {
    if (group.length < 2) continue;
    for (const chosen of group) {
      ctx.notes.push({
        severity: 'warning', code: 'duplicate-name', file: chosen.file, address: `${kind}/${chosen.name}`,
        message: `${group.length} ${chosen.cls} objects are named '${label}'; xops adopts by name, so it cannot tell them apart: give each a unique name_label in the pool before adopting`,
      });
    }
  }
  return [...byLabel.values()].flat().sort((a, b) => a.name.localeCompare(b.name));
}
