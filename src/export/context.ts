import type { ResourceKind } from '../model/kinds.js';
import type { ObservedIndex } from '../model/observed-index.js';
import type { ObservedClass, ObservedRecordTypes, ObservedState, Ref, XapiRecord } from '../model/observed.js';
import { indexObserved } from '../model/observed-index.js';
import { markOf, poolKeptMarks, type ObjectMark, type PoolMarkedClass } from '../plan/ownership-marks.js';
import type { ExportNote } from './notes.js';

/** A kind `xops export` can write: one whose registry entry has an exporter (see export/index.ts EXPORT_KINDS). */
export type ExportKind = ResourceKind;

/** What to export and how. Every field is optional. */
export interface ExportOptions {
  /** Kinds to write (default: every kind with an exporter, EXPORT_KINDS). References to kinds left out name the live object. */
  kinds?: readonly ExportKind[];
  /** Also declare other_config keys (minus xops' marks and keys XAPI maintains itself). Default false. */
  otherConfig?: boolean;
  /** Folder of the JSON Schemas, relative to the output folder, for editor modelines. Default `schemas`. */
  schemaDir?: string;
}

/** A pool object that will be written as a manifest. */
export interface Candidate<C extends ObservedClass = ObservedClass> {
  cls: C;
  ref: Ref;
  record: ObservedRecordTypes[C];
}

/** A candidate with its manifest name and file (relative to the output folder, forward slashes). */
export interface Chosen<C extends ObservedClass = ObservedClass> extends Candidate<C> {
  kind: ExportKind;
  name: string;
  file: string;
}

/** Shared state of one export: the snapshot, what was chosen, and the notes collected so far. */
export interface ExportContext {
  readonly observed: ObservedState;
  readonly index: ObservedIndex;
  readonly kinds: ReadonlySet<ExportKind>;
  readonly otherConfig: boolean;
  readonly schemaDir: string;
  readonly notes: ExportNote[];
  /** Objects left out without a note of their own, counted by what they are (singular: `template`). */
  readonly skipped: Map<string, number>;
  /** Every exported object by ref (refs are unique across classes). */
  readonly chosen: Map<Ref, Chosen>;
  /** Manifest names in use, by kind: a live reference must not be mistaken for one of them. */
  readonly names: Map<ExportKind, Set<string>>;
  /** The exportable kind whose manifests stand for objects of a class (its main class). */
  readonly kindOfClass: ReadonlyMap<ObservedClass, ExportKind>;
}

/** An exportable kind as the context needs it: its name and its main XAPI class. */
export interface ExportableKind {
  kind: ExportKind;
  cls: ObservedClass;
}

/** A fresh export context; `exportable` lists every kind that has an exporter, in registry order. */
export function createExportContext(observed: ObservedState, options: ExportOptions, exportable: readonly ExportableKind[]): ExportContext {
  return {
    observed,
    index: indexObserved(observed),
    kinds: new Set(options.kinds ?? exportable.map((k) => k.kind)),
    otherConfig: options.otherConfig ?? false,
    schemaDir: (options.schemaDir ?? 'schemas').replace(/\/+$/, ''),
    notes: [],
    skipped: new Map(),
    chosen: new Map(),
    names: new Map(exportable.map((k) => [k.kind, new Set<string>()])),
    kindOfClass: new Map(exportable.map((k) => [k.cls, k.kind])),
  };
}

export function countSkipped(ctx: ExportContext, what: string): void {
  ctx.skipped.set(what, (ctx.skipped.get(what) ?? 0) + 1);
}

/** `VM 'legacy web01' (uuid)`: how notes name a pool object. */
export function describe(cls: ObservedClass, record: { uuid: string; name_label?: unknown }): string {
  const label = typeof record.name_label === 'string' ? ` '${record.name_label}'` : '';
  return `${cls}${label} (${record.uuid})`;
}

/**
 * Notes an object that already carries an xops mark (its own, or for a class without other_config
 * the pool's, see poolKeptMarks) and returns true: it has a manifest in some repository already, so exporting it
 * again would make two owners.
 */
export function alreadyManaged(ctx: ExportContext, cls: ObservedClass, record: XapiRecord, mark: ObjectMark = markOf(record)): boolean {
  if (!mark.address) return false;
  const owner = mark.repo ? `${mark.address} (repository ${mark.repo})` : mark.address;
  ctx.notes.push({ severity: 'info', code: 'managed', message: `${describe(cls, record)} is already managed by xops as ${owner}: its manifest exists already` });
  return true;
}

/**
 * The objects of a class whose marks xops keeps in the pool's other_config (it has none itself)
 * that are not already managed and that `exportable` accepts (it adds the note saying why not).
 */
export function poolMarkedCandidates<C extends PoolMarkedClass>(ctx: ExportContext, cls: C, exportable: (record: ObservedRecordTypes[C]) => boolean = () => true): Candidate<C>[] {
  const marks = poolKeptMarks(ctx.observed, cls);
  const out: Candidate<C>[] = [];
  for (const [ref, record] of ctx.observed.records[cls] as Map<Ref, ObservedRecordTypes[C]>) {
    if (alreadyManaged(ctx, cls, record, marks.get(record.uuid) ?? {})) continue;
    if (exportable(record)) out.push({ cls, ref, record });
  }
  return out;
}

/**
 * How a manifest refers to a pool object: the manifest name when the object is exported too, else its
 * name_label — or its uuid when the label is ambiguous, empty, or would be read as one of the exported
 * manifests' names (references resolve to manifests first).
 */
export function referenceTo(ctx: ExportContext, cls: 'network' | 'SR' | 'host' | 'VM', ref: Ref): string | undefined {
  const chosen = ctx.chosen.get(ref);
  if (chosen) return chosen.name;
  const record = ctx.index.get(cls, ref);
  if (!record) return undefined;
  const label = record.name_label;
  const kind = ctx.kindOfClass.get(cls);
  const shadowed = kind !== undefined && ctx.names.get(kind)!.has(label);
  return label !== '' && !shadowed && ctx.index.byName(cls, label).length === 1 ? label : record.uuid;
}
