/**
 * Which raw document (and its place in `desired.documents`) a typed resource was built from, as the
 * loader paired them: the planner finds a resource's document without a map of all 10,000. A built
 * resource reused by a later load is paired with that load's document; a caller checks that
 * `documents[index]` is still `doc` in its own state before trusting the pairing.
 */
import type { RawDocument } from './desired.js';

const pairs = new WeakMap<object, { doc: RawDocument; index: number }>();

export function pairRawDocument(resource: object, doc: RawDocument, index: number): void {
  pairs.set(resource, { doc, index });
}

export function rawDocumentOf(resource: object): { doc: RawDocument; index: number } | undefined {
  return pairs.get(resource);
}
