/** What the loader needs from a cache of parsed files (LoadOptions.cache); ManifestCache (parse-cache.ts) is one. */
import type { Diagnostic } from '../model/diagnostics.js';
import type { ParsedDocument, ParseResult, YamlLimits } from './yaml.js';

/** A file as the loader is given it (the loader's ManifestFile, without importing the loader). */
interface ManifestFile {
  path: string;
  content: Buffer;
}

/** A file's parse as the loader keeps it, with the YAML nodes it counted against the commit's budget. */
export interface CachedParse {
  result: ParseResult;
  nodes: number;
}

/** What checking one parsed document found (schema and the kind's own checks). */
export interface DocumentCheck {
  diagnostics: Diagnostic[];
  errors: number;
  schemaValid: boolean;
}

/**
 * A VM document built once (see loader.ts): reused for the same parsed document while `guard` (the
 * live inventory and every other kind's declared names) is the same, so that the planner, which
 * keeps work per built document, sees the same object for an unchanged manifest.
 */
export interface BuiltDocument {
  guard: BuildGuard;
  built: unknown;
  diagnostics: Diagnostic[];
  errors: number;
  /** What the build asked the live inventory (`kind`, `name`, answer): another inventory giving the same answers builds the same. */
  asked: [string, string, boolean][];
}

/** What a VM document's build read besides its own text and the live inventory. */
export interface BuildGuard {
  /** The live inventory the answers in `asked` are known to hold for (undefined: none). */
  live: unknown;
  /** The names every kind but VM declares, in one string. */
  declared: string;
}

/** The loader's view of a cache (LoadOptions.cache). Entries must not be mutated by their users. */
export interface FileParseCache {
  built?(doc: ParsedDocument): BuiltDocument | undefined;
  storeBuilt?(doc: ParsedDocument, entry: BuiltDocument): void;
  parsed(file: ManifestFile, limits: Omit<YamlLimits, 'budget'>): CachedParse | undefined;
  storeParsed(file: ManifestFile, limits: Omit<YamlLimits, 'budget'>, result: ParseResult, nodes: number): void;
  checked(doc: ParsedDocument): DocumentCheck | undefined;
  storeChecked(doc: ParsedDocument, check: DocumentCheck): void;
}

