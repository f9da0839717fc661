import type { SourceLocation } from '../model/diagnostics.js';
import type { RawDocument } from '../model/desired.js';

/** One step into a document: an object key or an array index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * Segments as a manifest JSON path: `spec.disks[0].size`. Keys that are not plain identifiers (label
 * keys such as `xops.io/owner`) are quoted, `metadata.labels["xops.io/owner"]`, so the path stays unambiguous.
 */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Segments of an ajv `instancePath` (a JSON Pointer, `/spec/disks/0/size`), read against the document so indexes stay numbers. */
export function pointerSegments(pointer: string, document: unknown): PathSegment[] {
  if (pointer === '') return [];
  const segments: PathSegment[] = [];
  let node: unknown = document;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(key)) {
      segments.push(Number(key));
      node = node[Number(key)];
    } else {
      segments.push(key);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return segments;
}

/**
 * Where the value at `segments` is written, falling back to the nearest ancestor the loader recorded
 * and finally to the document itself: a diagnostic always points somewhere in the operator's file.
 */
export function locate(doc: RawDocument, segments: readonly PathSegment[]): SourceLocation {
  for (let n = segments.length; n > 0; n--) {
    const prefix = segments.slice(0, n);
    for (const candidate of pathSpellings(prefix)) {
      const loc = doc.locations[candidate];
      if (loc) return loc;
    }
  }
  return doc.source;
}

/** The quoted form first, then the plain dotted form, which a loader may use for odd keys. */
function pathSpellings(segments: readonly PathSegment[]): string[] {
  const quoted = formatPath(segments);
  const dotted = segments
    .map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`))
    .join('');
  return quoted === dotted ? [quoted] : [quoted, dotted];
}
