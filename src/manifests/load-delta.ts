/**
 * A load made from a kept one when only a few manifests of a memoizable kind changed (a pull
 * request editing one VM of 10,000, a commit changing one): those files are loaded alone, against
 * every name the whole set declares, and put in the places of the documents they replace. Every
 * other document, the order and the diagnostics stay the kept load's, so the cost is that of the
 * changed files.
 *
 * Only a change a full load could not treat differently qualifies; anything else returns undefined
 * and the caller loads the whole set:
 * - the same paths, the same companion files, the same limits and live inventory;
 * - the kept load reported no error, and holds no document of a kind with a link step (an
 *   appliance's: linking reads every document, and a part load would see only the changed ones);
 * - each changed file held only documents of a memoizable kind (KindContract.memoizable, whose
 *   build reads only its own text, the live inventory and the names declared) and holds the same
 *   kinds and names in the same order, and neither version has any diagnostic (the part load is
 *   given every companion file, which a VM may read);
 * - the whole set stays within the byte and YAML-node budgets.
 * `test/manifests/load-delta.test.ts` compares such loads with full ones over random edits.
 */
import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredDocument, DesiredState } from '../model/desired.js';
import { ALL_KINDS, type Kind } from '../model/kinds.js';
import { documentsOf, KINDS, KIND_REGISTRY } from '../kinds/index.js';
import { addressOf } from '../model/address.js';
import { pairRawDocument } from '../model/raw-pairing.js';
import { isManifestPath } from './manifest-path.js';
import type { ManifestLimits } from './limits.js';
import type { LoadOptions, LoadResult, ManifestFile } from './loader.js';

/** Most changed files loaded apart; more, and a whole load costs about the same. */
export const MAX_DELTA_FILES = 32;

/** What a kept load is indexed by, made once per kept load when a delta is first tried against it. */
export interface DeltaIndex {
  /** Every file of the set by path. */
  files: Map<string, Buffer>;
  /** The set's companion files (cloud-init and the like), which any VM may read. */
  companions: ManifestFile[];
  /** Manifest path → the places of its documents in `desired.documents`. */
  documentsOf: Map<string, number[]>;
  /** Address of a memoizable kind's document → its place in its kind's list (`desired.vms`...). */
  placeOf: Map<string, number>;
  /** Every name the set declares, by kind. */
  declared: Map<Kind, Set<string>>;
  /** Paths some diagnostic points into. */
  reported: Set<string>;
  bytes: number;
  nodes: number;
}

/**
 * Indexes a kept load for deltas; undefined when it cannot serve as one (an error, an appliance,
 * a file whose YAML node count is not known). `nodesOf` gives a manifest's counted nodes.
 */
export function indexForDelta(files: readonly ManifestFile[], result: LoadResult, nodesOf: (file: ManifestFile) => number | undefined): DeltaIndex | undefined {
  const { desired, diagnostics } = result;
  if (diagnostics.some((d) => d.severity === 'error')) return undefined;
  if (KIND_REGISTRY.some((k) => k.link !== undefined && documentsOf(desired, k).length > 0)) return undefined;
  // Every kind, in the loader's order (declaredNames): the build guard is made from this map.
  const declared = new Map<Kind, Set<string>>(ALL_KINDS.map((k) => [k, new Set<string>()]));
  const index: DeltaIndex = { files: new Map(), companions: [], documentsOf: new Map(), placeOf: new Map(), declared, reported: new Set(), bytes: 0, nodes: 0 };
  for (const f of files) {
    index.files.set(f.path, f.content);
    if (!isManifestPath(f.path)) {
      index.companions.push(f);
      continue;
    }
    const nodes = nodesOf(f);
    if (nodes === undefined) return undefined;
    index.nodes += nodes;
    index.bytes += f.content.length;
  }
  desired.documents.forEach((doc, i) => {
    const list = index.documentsOf.get(doc.source.file);
    if (list) list.push(i);
    else index.documentsOf.set(doc.source.file, [i]);
    declared.get(doc.kind as Kind)?.add(doc.name);
  });
  for (const kind of KIND_REGISTRY) {
    if (kind.memoizable) documentsOf(desired, kind).forEach((doc, i) => index.placeOf.set(addressOf(doc), i));
  }
  for (const d of diagnostics) if (d.location) index.reported.add(d.location.file);
  return index;
}

/** The files of `files` whose bytes differ from the kept set's, by path; undefined when the paths differ or too many changed. */
export function changedManifests(index: DeltaIndex, files: readonly ManifestFile[]): ManifestFile[] | undefined {
  if (files.length !== index.files.size) return undefined;
  const changed: ManifestFile[] = [];
  // A path given twice (a hostile request) would hide a missing one: every path must be new here.
  // Sources list paths sorted, where a repeat sits next to itself; others are checked with a set.
  const seen = isStrictlySorted(files) ? undefined : new Set<string>();
  for (const f of files) {
    const kept = index.files.get(f.path);
    if (!kept || seen?.has(f.path)) return undefined;
    seen?.add(f.path);
    if (kept === f.content || kept.equals(f.content)) continue;
    // A companion file may be read by any VM: only manifests are loaded apart.
    if (!isManifestPath(f.path) || changed.length === MAX_DELTA_FILES) return undefined;
    changed.push(f);
  }
  // In the loader's order, so that the part load's documents line up with them.
  return changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function isStrictlySorted(files: readonly ManifestFile[]): boolean {
  for (let i = 1; i < files.length; i++) if (!(files[i - 1]!.path < files[i]!.path)) return false;
  return true;
}

/**
 * The load of the whole set, from the kept one and the changed files, with its own index; undefined
 * when the change does not qualify (see above). `loadPart` loads the changed files alone with the
 * options given.
 */
export function loadDelta(
  index: DeltaIndex,
  kept: LoadResult,
  changed: readonly ManifestFile[],
  limits: ManifestLimits,
  nodesOf: (file: ManifestFile) => number | undefined,
  opts: Omit<LoadOptions, 'cache'>,
  loadPart: (files: ManifestFile[], opts: Omit<LoadOptions, 'cache'>) => LoadResult,
): { result: LoadResult; index: DeltaIndex } | undefined {
  let bytes = index.bytes;
  let nodes = index.nodes;
  // Each changed file's documents, in file order: their places in `documents` and their kinds' lists.
  const replaced: { at: number; place: number; address: string; file: string }[] = [];
  for (const f of changed) {
    const places = index.documentsOf.get(f.path);
    if (!places || index.reported.has(f.path)) return undefined;
    for (const at of places) {
      const old = kept.desired.documents[at]!;
      const place = KINDS[old.kind as Kind]?.memoizable ? index.placeOf.get(old.address) : undefined;
      if (place === undefined) return undefined;
      replaced.push({ at, place, address: old.address, file: f.path });
    }
    bytes += f.content.length - index.files.get(f.path)!.length;
  }
  const part = loadPart([...changed, ...index.companions], { ...opts, declared: index.declared });
  const partDocuments = part.desired.documents;
  if (part.diagnostics.length > 0 || partDocuments.length !== replaced.length) return undefined;
  for (const f of changed) {
    const before = nodesOf({ path: f.path, content: index.files.get(f.path)! });
    const after = nodesOf(f);
    if (before === undefined || after === undefined) return undefined;
    nodes += after - before;
  }
  if (bytes > limits.maxTotalBytes || nodes > limits.maxNodes) return undefined;
  const documents = [...kept.desired.documents];
  // Each memoizable kind's list, copied when one of its documents is replaced; the part load's
  // typed documents by address (the part holds no name twice: the kept set did not).
  const lists = new Map<Kind, DesiredDocument[]>();
  const built = new Map<string, DesiredDocument>();
  for (const kind of KIND_REGISTRY) {
    if (kind.memoizable) for (const d of documentsOf(part.desired, kind)) built.set(addressOf(d), d);
  }
  // The part load lists documents in the kept order (both sorted by path, then file order), so
  // the i-th is the i-th replaced: the same address from the same file, or no delta.
  for (let i = 0; i < replaced.length; i++) {
    const raw = partDocuments[i]!;
    const { at, place, address, file } = replaced[i]!;
    const kind = KINDS[raw.kind as Kind];
    const doc = built.get(address);
    if (!kind?.memoizable || raw.address !== address || raw.source.file !== file || !doc || doc.meta.source.file !== file) return undefined;
    let list = lists.get(kind.kind);
    if (!list) lists.set(kind.kind, (list = [...documentsOf(kept.desired, kind)]));
    documents[at] = raw;
    list[place] = doc;
    pairRawDocument(doc, raw, at);
  }
  const typed: Record<string, DesiredDocument[]> = {};
  for (const [kind, list] of lists) typed[KINDS[kind].desired] = list;
  const desired: DesiredState = { ...kept.desired, ...typed, source: part.desired.source, documents };
  const diagnostics: Diagnostic[] = [...kept.diagnostics];
  // The new load's index differs in the changed files' bytes only (same places, names, reports).
  const files = new Map(index.files);
  for (const f of changed) files.set(f.path, f.content);
  return { result: { desired, diagnostics }, index: { ...index, files, bytes, nodes } };
}
