import type { CachedParse, DocumentCheck, FileParseCache } from './file-parse-cache.js';
import type { ManifestFile } from './loader.js';
import type { ParsedDocument, ParseResult, YamlLimits } from './yaml.js';

type Limits = Omit<YamlLimits, 'budget'>;

/**
 * Parses and checks kept by path for one load: a file whose bytes or limits differ from those a
 * parse was made from is not found (the loader then parses it itself).
 */
export class PreparedParses implements FileParseCache {
  private readonly entries = new Map<string, { content: Buffer; limits: Limits; parse: CachedParse }>();
  private readonly checks = new WeakMap<ParsedDocument, DocumentCheck>();

  /** Files kept. */
  get size(): number {
    return this.entries.size;
  }

  parsed(file: ManifestFile, limits: Limits): CachedParse | undefined {
    const entry = this.entries.get(file.path);
    if (!entry || entry.limits.maxNodes !== limits.maxNodes || entry.limits.maxDepth !== limits.maxDepth) return undefined;
    if (entry.content !== file.content && !entry.content.equals(file.content)) return undefined;
    return entry.parse;
  }

  storeParsed(file: ManifestFile, limits: Limits, result: ParseResult, nodes: number): void {
    this.entries.set(file.path, { content: file.content, limits: { maxNodes: limits.maxNodes, maxDepth: limits.maxDepth }, parse: { result, nodes } });
  }

  checked(doc: ParsedDocument): DocumentCheck | undefined {
    return this.checks.get(doc);
  }

  storeChecked(doc: ParsedDocument, check: DocumentCheck): void {
    this.checks.set(doc, check);
  }
}
