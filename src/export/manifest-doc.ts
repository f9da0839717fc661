import type { ObservedClass } from '../model/observed.js';
import { API_VERSION } from '../manifests/schema-kit.js';
import type { Candidate, Chosen, ExportContext, ExportKind } from './context.js';
import { describe } from './context.js';

/** One manifest about to be written: the document, and the comments that go with it. */
export interface ManifestDoc {
  kind: ExportKind;
  name: string;
  /** Relative to the output folder, forward slashes. */
  file: string;
  /** The pool object it was exported from, for the header comment: `VM 'web01' (uuid)`. */
  source: string;
  body: { apiVersion: string; kind: ExportKind; metadata: { name: string }; spec: Record<string, unknown> };
  /** Comment appended to the line of a top-level spec field (e.g. on a placeholder to fill in). */
  lineComments: Record<string, string>;
  /** Comment lines written after the document (without the leading `#`). */
  trailer: string[];
}

/** Everything kind-specific about exporting one kind: which objects qualify, and their manifest. */
export interface KindExporter<C extends ObservedClass = ObservedClass> {
  kind: ExportKind;
  cls: C;
  /** The manifest folder, as in `examples/` (`vms`), relative to the output folder. */
  folder: string;
  /**
   * The file of the one manifest of a singleton kind, at the top of the output folder (`pool.yaml`);
   * also the manifest's name when the object has no name_label.
   */
  singleFile?: { file: string; fallbackName: string };
  /** The objects to write; each one left out gets a note or a count in `ctx.skipped`. */
  select(ctx: ExportContext): Candidate<C>[];
  /** The manifest of one chosen object. References may use `ctx.chosen`: every object is named first. */
  build(ctx: ExportContext, chosen: Chosen<C>): ManifestDoc;
}

/** A document with its header filled in and the given spec. */
export function manifestDoc(chosen: Chosen, spec: Record<string, unknown>): ManifestDoc {
  return {
    kind: chosen.kind,
    name: chosen.name,
    file: chosen.file,
    source: describe(chosen.cls, chosen.record as { uuid: string; name_label?: unknown }),
    body: { apiVersion: API_VERSION, kind: chosen.kind, metadata: { name: chosen.name }, spec },
    lineComments: {},
    trailer: [],
  };
}

/** `spec.nameLabel` is written only when it is not the manifest name (its default). */
export function nameLabelSpec(chosen: Chosen): Record<string, unknown> {
  const label = (chosen.record as { name_label?: string }).name_label ?? '';
  return label === chosen.name ? {} : { nameLabel: label };
}
