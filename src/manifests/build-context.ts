import type { DesiredDocument, ManifestMeta, Reference } from '../model/desired.js';
import type { Kind, ResourceKind } from '../model/kinds.js';
import type { JsonSchema } from './schema-kit.js';

/** What a reference may point at: a kind of manifest, or (Template) only a live pool object. */
export type ReferenceKind = ResourceKind | 'Template';

/**
 * What a kind's builder may ask of the loader while turning a schema-valid document into desired
 * state. Problems reported here carry the document's address and the location of `path`.
 */
export interface BuildContext {
  /**
   * Resolves a reference; a dangling one is reported at `path` (and still returned, so building goes
   * on). `liveOnly`: only an existing pool object will do (a Host manifest names a real host).
   */
  ref(kind: ReferenceKind, name: string, path: string, opts?: { liveOnly?: boolean }): Reference;
  /** Bytes, or undefined after reporting a problem at `path`. */
  size(value: number | string, path: string): number | undefined;
  /** Seconds, or undefined after reporting a problem at `path`. */
  duration(value: number | string, path: string): number | undefined;
  error(path: string, message: string, code?: string): void;
  warn(path: string, message: string, code?: string): void;
  /**
   * The bytes of a companion file of the same snapshot (see companion-files.ts) at `path`, relative
   * to the manifests folder; undefined when the source carried none there (missing, hidden, larger
   * than MAX_COMPANION_BYTES, or a symlink leading outside the folder).
   */
  companion(path: string): Buffer | undefined;
}

/** One built document as a cross-document check sees it; `error` reports at `path` of it and keeps it out of desired state. */
export interface LinkedDocument {
  doc: DesiredDocument;
  error(path: string, message: string, code: string): void;
}

/** What a kind's cross-document check (`link`) sees once every document is built. */
export interface LinkContext {
  /** Every built document, in load order. */
  built: readonly LinkedDocument[];
  /** metadata.name of every document of a kind, valid or not. */
  declaredNames(kind: Kind): ReadonlySet<string>;
}

/** Everything kind-specific about reading one kind of manifest: its schema and its builder. */
export interface KindDefinition<D extends DesiredDocument = DesiredDocument> {
  kind: Kind;
  /** File name under `schemas/`. */
  schemaFile: string;
  schema: JsonSchema;
  /** `spec` as validated by `schema` (so its shape can be trusted); returns the typed desired document. */
  build(spec: Record<string, unknown>, meta: ManifestMeta, ctx: BuildContext): D;
  /**
   * Checks that need no schema-valid spec; they run even when the schema check failed, so that one
   * run reports every problem (e.g. a password written inline).
   */
  inspect?(spec: unknown, ctx: BuildContext): void;
  /**
   * Checks between documents, once every document is built (an appliance's members against the
   * VMs' `appliance`); may fill in values the other side implies.
   */
  link?(ctx: LinkContext): void;
  /**
   * Reads what a built document names on disk, for manifests loaded from a folder (`loadManifests`):
   * it may fill in facts the planner cannot read itself (a Disk image's size). Never fails: what it
   * cannot read is left out, and apply reports it.
   */
  measure?(doc: D, root: string): Promise<void>;
  /** How messages name an object of this kind in the pool (`network`, `VM appliance`). */
  word?: string;
  /**
   * References to this kind must name a manifest: its objects are never looked up in the pool by
   * the loader (appliances).
   */
  manifestOnly?: boolean;
}

/** Checks that no otherConfig key uses the `xops.` prefix, which holds xops' ownership marks. */
export function checkOtherConfig(otherConfig: Record<string, string> | undefined, path: string, ctx: BuildContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(otherConfig ?? {})) {
    if (key.startsWith('xops.')) ctx.error(`${path}["${key}"]`, `other_config key '${key}' is reserved for xops' ownership marks`, 'reserved-key');
    else out[key] = value;
  }
  return out;
}
