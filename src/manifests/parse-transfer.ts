/**
 * Parsed manifest files in a form that crosses a thread boundary cheaply (parse-ahead.ts). A parsed
 * document records where each of its values was written: two Maps of path -> `{file, line, col}`,
 * half a million small objects for 10,000 VMs. Structured clone copies each of them with its own
 * copy of the file name and of the path, and that costs more on the receiving side than the YAML
 * values themselves; here the paths go once into a shared string table and the positions into one
 * Int32Array per map. Everything else goes through structured clone as it is. Pure: no I/O.
 */
import type { SourceLocation } from '../model/diagnostics.js';
import type { DocumentCheck } from './file-parse-cache.js';
import type { ParsedDocument, ParseResult } from './yaml.js';

/** One file's parse as the loader cached it, with the check of each of its documents (same order). */
export interface TransferredParse {
  path: string;
  nodes: number;
  result: ParseResult;
  /** `checks[i]` is what checking `result.documents[i]` found; undefined where it was not checked. */
  checks: (DocumentCheck | undefined)[];
}

/** A location map as (string index, line, col) triples; `maps` holds any map that does not fit that shape. */
type EncodedLocations = Int32Array | Map<string, SourceLocation>;

interface EncodedDocument {
  /** The document's own fields in their order, the two location maps replaced by their encoding. */
  fields: [string, unknown][];
  check: DocumentCheck | undefined;
}

interface EncodedParse {
  path: string;
  nodes: number;
  diagnostics: ParseResult['diagnostics'];
  documents: EncodedDocument[];
}

/** A batch of parses, ready for `postMessage` (plain data and typed arrays only). */
export interface EncodedParses {
  strings: string[];
  parses: EncodedParse[];
}

const LOCATION_MAPS = new Set(['locations', 'keyLocations']);

/** Encodes parses for the other thread; `decodeParses` gives them back field for field. */
export function encodeParses(parses: TransferredParse[]): EncodedParses {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const encodeMap = (map: Map<string, SourceLocation>, file: string): EncodedLocations => {
    const out = new Int32Array(map.size * 3);
    let at = 0;
    for (const [path, loc] of map) {
      // Only the shape the parser makes is packed; anything else travels as it is.
      if (!isPlainLocation(loc, file)) return map;
      out[at++] = intern(path);
      out[at++] = loc.line;
      out[at++] = loc.col;
    }
    return out;
  };
  return {
    strings,
    parses: parses.map((p) => ({
      path: p.path,
      nodes: p.nodes,
      diagnostics: p.result.diagnostics,
      documents: p.result.documents.map((doc, i) => ({
        fields: Object.entries(doc).map(([key, value]): [string, unknown] =>
          LOCATION_MAPS.has(key) && value instanceof Map ? [key, encodeMap(value as Map<string, SourceLocation>, p.path)] : [key, value],
        ),
        check: p.checks[i],
      })),
    })),
  };
}

/** The parses `encodeParses` was given, rebuilt (the locations of one file share its path string). */
export function decodeParses(encoded: EncodedParses): TransferredParse[] {
  const { strings } = encoded;
  const decodeMap = (value: EncodedLocations, file: string): Map<string, SourceLocation> => {
    if (value instanceof Map) return value;
    const map = new Map<string, SourceLocation>();
    for (let at = 0; at < value.length; at += 3) map.set(strings[value[at]!]!, { file, line: value[at + 1]!, col: value[at + 2]! });
    return map;
  };
  return encoded.parses.map((p) => {
    const documents = p.documents.map((d) => {
      const doc: Record<string, unknown> = {};
      for (const [key, value] of d.fields) doc[key] = LOCATION_MAPS.has(key) && (value instanceof Int32Array || value instanceof Map) ? decodeMap(value, p.path) : value;
      return doc as unknown as ParsedDocument;
    });
    return { path: p.path, nodes: p.nodes, result: { documents, diagnostics: p.diagnostics }, checks: p.documents.map((d) => d.check) };
  });
}

/** `{file, line, col}` of `file`, with integer positions, and nothing else. */
function isPlainLocation(loc: SourceLocation, file: string): boolean {
  if (loc.file !== file || !Number.isInteger(loc.line) || !Number.isInteger(loc.col) || Math.abs(loc.line) > 0x7fffffff || Math.abs(loc.col) > 0x7fffffff) return false;
  const keys = Object.keys(loc);
  return keys.length === 3 && keys[0] === 'file' && keys[1] === 'line' && keys[2] === 'col';
}
