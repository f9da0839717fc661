import type { Diagnostic, SourceLocation } from '../model/diagnostics.js';
import type {
  DesiredDocument,
  DesiredState,
  ManifestMeta,
  RawDocument,
  Reference,
} from '../model/desired.js';
import { ALL_KINDS, type Kind } from '../model/kinds.js';
import { decodeManifest } from './decode.js';
import { addDocument, isKind, KIND_REGISTRY, KINDS } from '../kinds/index.js';
import type { BuildContext, LinkContext, LinkedDocument, ReferenceKind } from './build-context.js';
import type { ManifestLimits } from './limits.js';
import { repositoryLimits } from '../source/limits.js';
import type { LiveInventory, LiveKind } from './live.js';
import type { CompanionFiles } from './companion-files.js';
import { isManifestPath } from './manifest-path.js';
import { parentPath } from './paths.js';
import { pairRawDocument } from '../model/raw-pairing.js';
import { runSteps, runStepsYielding, type Steps } from '../model/steps.js';

export { isManifestPath };
import { checkSchema } from './schema-check.js';
import { closest } from './suggest.js';
import { parseDuration, parseSize } from './units.js';
import { parseYaml, type ParsedDocument, type ParseResult } from './yaml.js';
import type { BuildGuard, BuiltDocument, DocumentCheck, FileParseCache } from './file-parse-cache.js';

/** Options for loading manifests. */
export interface LoadOptions {
  /** What exists in the pool: when given, references that name no manifest are checked against it. */
  live?: LiveInventory;
  /** The Git commit the files come from, recorded in `desired.source`. */
  commit?: string;
  limits?: Partial<ManifestLimits>;
  /**
   * Parsed and schema-checked files kept from earlier loads, by content (see parse-cache.ts): a file
   * seen before is not parsed or validated again. The result is the same with or without it.
   */
  cache?: FileParseCache;
  /**
   * The names every document of a whole set declares, when `files` are a few changed files of a
   * set loaded before (parse-cache.ts loads only those, see ManifestCache.load): references are
   * checked against the whole set, and names are not checked for duplicates here.
   */
  declared?: Map<Kind, Set<string>>;
}

/** One file to load: its path relative to the manifests folder (forward slashes) and its bytes. */
export interface ManifestFile {
  path: string;
  content: Buffer;
}

/** The loader's answer: desired state built from every valid document, and every problem found. */
export interface LoadResult {
  desired: DesiredState;
  diagnostics: Diagnostic[];
}

/** A parsed document on its way through the loader. */
interface LoadedDocument {
  file: string;
  parsed: ParsedDocument;
  body: Record<string, unknown>;
  kind: Kind;
  name?: string;
  address?: string;
  schemaValid: boolean;
  /** Errors reported against this document; one keeps it out of the typed lists. */
  errors: number;
  built?: DesiredDocument;
}

/**
 * Loads manifests from files already read (from disk or from Git objects). Pure: no I/O. Every
 * problem is a diagnostic; documents with problems are left out of the typed lists but still count
 * as declared, so one mistake does not cascade into "dangling reference" errors elsewhere.
 */
export function loadManifestFiles(files: ManifestFile[], root: string, opts: LoadOptions = {}): LoadResult {
  return runSteps(loadSteps(files, root, opts));
}

/**
 * loadManifestFiles, giving the event loop a turn every few hundred files and documents: the same
 * result, but loading 10,000 manifests cold does not hold a CLI plan's (or a controller's) event
 * loop for half a second. The files are not read again: nothing can change the result in between.
 */
export function loadManifestFilesYielding(files: ManifestFile[], root: string, opts: LoadOptions = {}): Promise<LoadResult> {
  return runStepsYielding(loadSteps(files, root, opts));
}

/** Files parsed, documents checked or built, between two steps of a load: tens of ms at most. */
const FILES_PER_STEP = 250;
const DOCUMENTS_PER_STEP = 500;

function* loadSteps(files: ManifestFile[], root: string, opts: LoadOptions): Steps<LoadResult> {
  const limits = repositoryLimits(opts.limits);
  const diagnostics: Diagnostic[] = [];
  const desired: DesiredState = {
    source: { ...(opts.commit !== undefined ? { commit: opts.commit } : {}), path: root },
    hosts: [],
    networks: [],
    srs: [],
    disks: [],
    vms: [],
    appliances: [],
    snapshotSchedules: [],
    vmGroups: [],
    policies: [],
    documents: [],
  };
  const manifests = files.filter((f) => isManifestPath(f.path)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (manifests.length > limits.maxFiles) {
    diagnostics.push({
      severity: 'error',
      code: 'too-many-files',
      message: `${manifests.length} manifest files is more than the limit of ${limits.maxFiles}`,
    });
    return { desired, diagnostics };
  }

  const companions: CompanionFiles = new Map(files.filter((f) => !isManifestPath(f.path)).map((f) => [f.path, f.content]));
  const docs = yield* parseFiles(manifests, limits, diagnostics, opts.cache);
  for (let i = 0; i < docs.length; i++) {
    checkDocumentOnce(docs[i]!, diagnostics, opts.cache);
    if ((i + 1) % DOCUMENTS_PER_STEP === 0) yield;
  }
  yield;
  const declared = opts.declared ?? declaredNames(docs, diagnostics);
  const guard = opts.cache?.built ? buildGuard(declared, opts.live) : undefined;
  const fresh: { doc: LoadedDocument; diagnostics: Diagnostic[]; errors: number; asked: [string, string, boolean][] }[] = [];
  let visited = 0;
  for (const doc of docs) {
    if (++visited % DOCUMENTS_PER_STEP === 0) yield;
    if (!doc.schemaValid || doc.name === undefined) continue;
    const keep = guard !== undefined && KINDS[doc.kind].memoizable === true;
    const reusable = keep ? opts.cache!.built!(doc.parsed) : undefined;
    if (reusable && reusable.guard.declared === guard!.declared && sameLiveAnswers(reusable, guard!.live as LiveInventory | undefined)) {
      diagnostics.push(...reusable.diagnostics);
      doc.errors += reusable.errors;
      doc.built = reusable.built as DesiredDocument;
      continue;
    }
    const found: Diagnostic[] = [];
    const errorsBefore = doc.errors;
    let readCompanion = false;
    const asked: [string, string, boolean][] = [];
    const live = opts.live && keep ? { has: (kind: LiveKind, name: string) => { const yes = opts.live!.has(kind, name); asked.push([kind, name, yes]); return yes; } } : opts.live;
    const ctx = buildContext(doc, declared, live, found, companions);
    const companion = ctx.companion;
    ctx.companion = (path) => ((readCompanion = true), companion(path));
    doc.built = KINDS[doc.kind].build(doc.body.spec as Record<string, unknown>, metaOf(doc), ctx);
    diagnostics.push(...found);
    // A build that read a companion file depends on more than its own text: built afresh each time.
    if (keep && !readCompanion) fresh.push({ doc, diagnostics: found, errors: doc.errors - errorsBefore, asked });
  }
  yield;
  const built = docs.flatMap((d) => (d.built ? [{ doc: d, built: d.built }] : []));
  linkDocuments(built, docs, diagnostics);
  yield;
  // Kept after the link step, which may fill in an appliance: such a VM is built afresh each time.
  for (const f of fresh) {
    const vm = f.doc.built as DesiredDocument & { spec: { appliance?: unknown } };
    if (vm.spec.appliance === undefined) opts.cache!.storeBuilt!(f.doc.parsed, { guard: guard!, built: vm, diagnostics: f.diagnostics, errors: f.errors, asked: f.asked });
  }

  for (const doc of docs) {
    if (doc.name === undefined) continue;
    const raw = rawDocument(doc);
    if (doc.built) pairRawDocument(doc.built, raw, desired.documents.length);
    desired.documents.push(raw);
  }
  // A document with an error stays out of the typed lists: nothing downstream acts on half-valid input.
  for (const { doc, built: b } of built) {
    if (doc.errors > 0) continue;
    addDocument(desired, KINDS[b.kind], b);
  }
  return { desired, diagnostics: sortDiagnostics(diagnostics) };
}

/**
 * The part of a load that depends on nothing but the files: each manifest's YAML parse and each
 * document's schema and kind checks, kept in `cache` for the load that follows (parse-ahead.ts
 * runs it in batches while the pool is being fetched). Problems are not reported here: the load
 * reports them, from the cache, exactly as it would have found them.
 */
export function prepareManifestFiles(files: ManifestFile[], opts: { limits?: Partial<ManifestLimits>; cache: FileParseCache }): void {
  const limits = repositoryLimits(opts.limits);
  const manifests = files.filter((f) => isManifestPath(f.path)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const found: Diagnostic[] = [];
  for (const doc of runSteps(parseFiles(manifests, limits, found, opts.cache))) checkDocumentOnce(doc, found, opts.cache);
}

function* parseFiles(files: ManifestFile[], limits: ManifestLimits, diagnostics: Diagnostic[], cache: FileParseCache | undefined): Steps<LoadedDocument[]> {
  const docs: LoadedDocument[] = [];
  let total = 0;
  let seen = 0;
  // One node budget for the whole commit: many files must not add up to what one file may not hold.
  const budget = { limit: limits.maxNodes, used: 0 };
  for (const file of files) {
    if (++seen % FILES_PER_STEP === 0) yield;
    const at = (line = 1, col = 1): SourceLocation => ({ file: file.path, line, col });
    if (!isSafeRelativePath(file.path)) {
      diagnostics.push({ severity: 'error', code: 'path-escape', message: 'path leaves the manifests folder; refusing to read it', location: at() });
      continue;
    }
    if (file.content.length > limits.maxFileBytes) {
      diagnostics.push({ severity: 'error', code: 'file-too-large', message: `file is larger than the limit of ${limits.maxFileBytes} bytes`, location: at() });
      continue;
    }
    total += file.content.length;
    if (total > limits.maxTotalBytes) {
      diagnostics.push({ severity: 'error', code: 'too-large', message: `manifests add up to more than the limit of ${limits.maxTotalBytes} bytes; stopped reading here`, location: at() });
      break;
    }
    const yamlLimits = { maxNodes: limits.maxFileNodes, maxDepth: limits.maxDepth };
    // A cached parse counts its nodes against the commit's budget as a fresh one would; when that
    // would pass the budget, the file is parsed afresh so that the refusal reads the same.
    const cached = cache?.parsed(file, yamlLimits);
    let parsed: ParseResult;
    if (cached && budget.used + cached.nodes <= budget.limit) {
      budget.used += cached.nodes;
      parsed = cached.result;
    } else {
      const decoded = decodeManifest(file.content);
      if (!decoded.ok) {
        diagnostics.push({ severity: 'error', code: 'encoding', message: decoded.message, location: at(decoded.line, decoded.col) });
        continue;
      }
      const before = budget.used;
      parsed = parseYaml(decoded.text, file.path, { ...yamlLimits, budget });
      if (budget.used <= budget.limit) cache?.storeParsed(file, yamlLimits, parsed, budget.used - before);
    }
    diagnostics.push(...parsed.diagnostics);
    if (budget.used > budget.limit) break; // the commit is refused; the rest would only cost time
    for (const doc of parsed.documents) {
      const loaded = header(file.path, doc, diagnostics);
      for (const d of doc.diagnostics) diagnostics.push(loaded?.address ? { ...d, address: loaded.address } : d);
      if (!loaded) continue;
      loaded.errors += doc.diagnostics.filter((d) => d.severity === 'error').length;
      docs.push(loaded);
    }
  }
  return docs;
}

/** Relative, forward slashes, no `..`: anything else could name a file outside the folder. */
function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || /^[A-Za-z]:/.test(path)) return false;
  // Only a path holding `..`, `//` or a trailing `/` can have such a segment: most are read once, not split.
  if (!path.includes('..') && !path.includes('//') && !path.endsWith('/')) return true;
  return !path.split('/').some((seg) => seg === '..' || seg === '');
}

/** Checks what every document needs before its kind's schema can be chosen. */
function header(file: string, parsed: ParsedDocument, diagnostics: Diagnostic[]): LoadedDocument | undefined {
  const body = parsed.value;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    diagnostics.push({ severity: 'error', code: 'schema', message: 'a manifest must be a mapping with apiVersion, kind, metadata and spec', location: parsed.start });
    return undefined;
  }
  const record = body as Record<string, unknown>;
  const kind = record.kind;
  if (kind === undefined) {
    diagnostics.push({ severity: 'error', code: 'schema', path: 'kind', message: `missing required field 'kind' (one of: ${ALL_KINDS.join(', ')})`, location: parsed.start });
    return undefined;
  }
  if (!isKind(kind)) {
    const hint = typeof kind === 'string' ? closest(kind, ALL_KINDS) : undefined;
    diagnostics.push({
      severity: 'error',
      code: 'unknown-kind',
      path: 'kind',
      message: `unknown kind ${typeof kind === 'string' ? `'${kind}'` : String(kind)}${hint ? ` (did you mean '${hint}'?)` : ''}; kinds are: ${ALL_KINDS.join(', ')}`,
      location: parsed.locations.get('kind') ?? parsed.start,
    });
    return undefined;
  }
  const metadata = record.metadata as Record<string, unknown> | undefined;
  const name = metadata !== null && typeof metadata === 'object' && typeof metadata.name === 'string' ? metadata.name : undefined;
  return { file, parsed, body: record, kind, name, address: name === undefined ? undefined : `${kind}/${name}`, schemaValid: false, errors: 0 };
}

/** checkDocument, or what it found the first time this parsed document was checked. */
function checkDocumentOnce(doc: LoadedDocument, diagnostics: Diagnostic[], cache: FileParseCache | undefined): void {
  const known = cache?.checked(doc.parsed);
  if (known) {
    diagnostics.push(...known.diagnostics);
    doc.errors += known.errors;
    doc.schemaValid = known.schemaValid;
    return;
  }
  const found: Diagnostic[] = [];
  const errorsBefore = doc.errors;
  checkDocument(doc, found);
  diagnostics.push(...found);
  const check: DocumentCheck = { diagnostics: found, errors: doc.errors - errorsBefore, schemaValid: doc.schemaValid };
  cache?.storeChecked(doc.parsed, check);
}

/** Schema problems and the kind's own schema-independent checks. */
function checkDocument(doc: LoadedDocument, diagnostics: Diagnostic[]): void {
  const problems = checkSchema(doc.kind, doc.parsed);
  for (const p of problems) {
    const location = p.atKey
      ? (doc.parsed.keyLocations.get(p.path) ?? locate(doc.parsed, p.path))
      : locate(doc.parsed, p.atParent ? (parentPath(p.path) ?? '') : p.path);
    diagnostics.push({ severity: 'error', code: p.code, message: p.message, location, path: p.path, ...addressOf(doc) });
    doc.errors++;
  }
  doc.schemaValid = problems.length === 0;
  const inspect = KINDS[doc.kind].inspect;
  if (inspect) inspect(doc.body.spec, documentReporter(doc, diagnostics));
}

function addressOf(doc: LoadedDocument): { address?: string } {
  return doc.address === undefined ? {} : { address: doc.address };
}

/** Where `path` was written, or the closest enclosing value that has a location. */
function locate(parsed: ParsedDocument, path: string): SourceLocation {
  for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
    const loc = parsed.locations.get(p);
    if (loc) return loc;
  }
  return parsed.start;
}

type Reporter = Pick<BuildContext, 'error' | 'warn'>;

function documentReporter(doc: LoadedDocument, diagnostics: Diagnostic[]): BuildContext {
  const report = (severity: 'error' | 'warning') => (path: string, message: string, code = 'invalid') => {
    if (severity === 'error') doc.errors++;
    diagnostics.push({ severity, code, message, path, location: locate(doc.parsed, path), ...addressOf(doc) });
  };
  const reporter: Reporter = { error: report('error'), warn: report('warning') };
  return {
    ...reporter,
    ref: (_kind, name) => ({ name, target: 'live', checked: false }),
    size: () => undefined,
    duration: () => undefined,
    companion: () => undefined,
  };
}

/** metadata.name of every document per kind; a name used twice in one kind is an error. */
function declaredNames(docs: LoadedDocument[], diagnostics: Diagnostic[]): Map<Kind, Set<string>> {
  const first = new Map<string, LoadedDocument>();
  const declared = new Map<Kind, Set<string>>(ALL_KINDS.map((k) => [k, new Set<string>()]));
  const single = new Map<Kind, LoadedDocument>();
  for (const doc of docs) {
    if (KINDS[doc.kind].singleton) {
      const earlier = single.get(doc.kind);
      if (earlier) {
        diagnostics.push({
          severity: 'error',
          code: 'duplicate-name',
          message: `only one ${doc.kind} manifest is allowed per repository (another is at ${where(earlier)})`,
          location: documentStart(doc),
          ...addressOf(doc),
        });
        doc.schemaValid = false;
        doc.errors++;
        continue;
      }
      single.set(doc.kind, doc);
    }
    if (doc.name === undefined) continue;
    const key = `${doc.kind}/${doc.name}`;
    const earlier = first.get(key);
    if (earlier) {
      diagnostics.push({
        severity: 'error',
        code: 'duplicate-name',
        path: 'metadata.name',
        message: `${doc.kind} '${doc.name}' is declared twice (first at ${where(earlier)})`,
        location: locate(doc.parsed, 'metadata.name'),
        ...addressOf(doc),
      });
      doc.schemaValid = false;
      doc.errors++;
      continue;
    }
    first.set(key, doc);
    declared.get(doc.kind)!.add(doc.name);
  }
  return declared;
}

/**
 * What a memoizable document's build (a VM's) reads besides its own text and the live inventory:
 * the names the other kinds declare (its references are to templates, hosts, SRs, networks,
 * disks, appliances; never to another VM).
 */
function buildGuard(declared: Map<Kind, Set<string>>, live: LiveInventory | undefined): BuildGuard {
  const parts: string[] = [];
  for (const [kind, names] of declared) if (!KINDS[kind].memoizable) parts.push(kind, ...names, '');
  return { live, declared: parts.join('\0') };
}

/**
 * Whether a kept build holds for this live inventory: the one it was checked against, or one that
 * answers its questions alike (a new VM elsewhere in the pool changes no reference of this one).
 */
function sameLiveAnswers(entry: BuiltDocument, live: LiveInventory | undefined): boolean {
  if (entry.guard.live === live) return true;
  if (!live || !entry.guard.live) return false;
  for (const [kind, name, answer] of entry.asked) if (live.has(kind as LiveKind, name) !== answer) return false;
  entry.guard = { ...entry.guard, live };
  return true;
}

/** Where a document starts for diagnostics and `meta.source`: its `kind:` line. */
function documentStart(doc: LoadedDocument): SourceLocation {
  return doc.parsed.keyLocations.get('kind') ?? doc.parsed.start;
}

function where(doc: LoadedDocument): string {
  const loc = documentStart(doc);
  return `${loc.file}:${loc.line}`;
}

/** How messages name a pool object a reference may point at. */
function wordFor(kind: ReferenceKind): string {
  return kind === TEMPLATE ? 'template' : (KINDS[kind].word ?? kind);
}

/** The one reference target that is no kind: a VM's template is always a pool object. */
const TEMPLATE = 'Template';

function buildContext(
  doc: LoadedDocument,
  declared: Map<Kind, Set<string>>,
  live: LiveInventory | undefined,
  diagnostics: Diagnostic[],
  companions: CompanionFiles,
): BuildContext {
  const reporter = documentReporter(doc, diagnostics);
  return {
    error: reporter.error,
    warn: reporter.warn,
    companion: (path) => companions.get(path),
    ref(kind, name, path, opts = {}): Reference {
      // Templates are never manifests: a VM's template always names a pool object.
      const liveOnly = opts.liveOnly || kind === TEMPLATE;
      const manifests = kind === TEMPLATE ? undefined : declared.get(kind);
      if (!liveOnly && manifests?.has(name)) return { name, target: 'manifest', checked: true };
      if (kind !== TEMPLATE && KINDS[kind].manifestOnly) {
        reporter.error(path, `no ${kind} manifest is named '${name}'${hint(name, manifests)}`, 'dangling-ref');
        return { name, target: 'manifest', checked: true };
      }
      if (!live) {
        // Unchecked until the planner sees the pool; a near-miss of a manifest name is worth a hint now.
        const near = liveOnly ? undefined : closestName(name, manifests);
        if (near) reporter.warn(path, `'${name}' names no ${kind} manifest (did you mean '${near}'?); it must then exist in the pool`, 'unresolved-ref');
        return { name, target: 'live', checked: false };
      }
      // Manifest-only kinds answered above; what is left is a kind the inventory lists.
      if (!live.has(kind as LiveKind, name)) {
        const word = wordFor(kind);
        const what = liveOnly ? `no ${word} in the pool` : `neither ${article(kind)} ${kind} manifest nor ${article(word)} ${word} in the pool`;
        reporter.error(path, `'${name}' is ${what} (by name or uuid)${liveOnly ? '' : hint(name, manifests)}`, 'dangling-ref');
      }
      return { name, target: 'live', checked: true };
    },
    size(value, path) {
      const parsed = parseSize(value);
      if (parsed.ok) return parsed.value;
      reporter.error(path, parsed.message, 'schema');
      return undefined;
    },
    duration(value, path) {
      const parsed = parseDuration(value);
      if (parsed.ok) return parsed.value;
      reporter.error(path, parsed.message, 'schema');
      return undefined;
    },
  };
}

/** Short names differ by little (web-01, db-01): only one edit counts as a likely typo for them. */
function closestName(name: string, candidates: Set<string> | undefined): string | undefined {
  return candidates ? closest(name, candidates, name.length > 6 ? 2 : 1) : undefined;
}

function hint(name: string, candidates: Set<string> | undefined): string {
  const near = closestName(name, candidates);
  return near ? ` (did you mean '${near}'?)` : '';
}

/** "an SR", "a VM": the article as the word is spoken. */
function article(word: string): string {
  return /^(SR|[aeiou])/i.test(word) && !/^VM/.test(word) ? 'an' : 'a';
}

function metaOf(doc: LoadedDocument): ManifestMeta {
  const metadata = doc.body.metadata as { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  return {
    name: metadata.name,
    labels: metadata.labels ?? {},
    annotations: metadata.annotations ?? {},
    source: documentStart(doc),
  };
}

/** Runs every kind's cross-document check over the built documents. */
function linkDocuments(built: { doc: LoadedDocument; built: DesiredDocument }[], docs: LoadedDocument[], diagnostics: Diagnostic[]): void {
  const linked: LinkedDocument[] = built.map(({ doc, built: b }) => ({
    doc: b,
    error(path, message, code) {
      doc.errors++;
      diagnostics.push({ severity: 'error', code, message, path, location: locate(doc.parsed, path), ...addressOf(doc) });
    },
  }));
  const ctx: LinkContext = {
    built: linked,
    declaredNames: (kind) => new Set(docs.filter((d) => d.kind === kind && d.name !== undefined).map((d) => d.name!)),
  };
  for (const kind of KIND_REGISTRY) kind.link?.(ctx);
}

/**
 * A parsed document's raw form, made once: everything in it follows from the parse (which is kept
 * per file path and content), so a cached file gives the same object to every load.
 */
const rawDocuments = new WeakMap<ParsedDocument, RawDocument>();
function rawDocument(doc: LoadedDocument): RawDocument {
  let raw = rawDocuments.get(doc.parsed);
  if (!raw || raw.kind !== doc.kind || raw.address !== doc.address) rawDocuments.set(doc.parsed, (raw = newRawDocument(doc)));
  return raw;
}

function newRawDocument(doc: LoadedDocument): RawDocument {
  const metadata = doc.body.metadata as { labels?: unknown };
  const labels = metadata.labels !== null && typeof metadata.labels === 'object' ? (metadata.labels as Record<string, string>) : {};
  const parsed = doc.parsed;
  return {
    kind: doc.kind,
    name: doc.name!,
    address: doc.address!,
    labels,
    body: doc.body,
    source: documentStart(doc),
    // Built when first asked for: most documents of a large repository are never pointed at.
    get locations() {
      return locationsOf(parsed);
    },
  };
}

/** `locations` as a plain object, built once per parsed document (a cached one is loaded many times). */
const locationObjects = new WeakMap<ParsedDocument, Record<string, SourceLocation>>();
function locationsOf(parsed: ParsedDocument): Record<string, SourceLocation> {
  let out = locationObjects.get(parsed);
  if (!out) locationObjects.set(parsed, (out = Object.fromEntries(parsed.locations)));
  return out;
}

/** Orders diagnostics by file, line and column; whole-repository ones (no location) first. */
export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  const key = (d: Diagnostic) => d.location;
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      const la = key(a.d);
      const lb = key(b.d);
      if (!la || !lb) return la ? 1 : lb ? -1 : a.i - b.i;
      if (la.file !== lb.file) return la.file < lb.file ? -1 : 1;
      return la.line - lb.line || la.col - lb.col || a.i - b.i;
    })
    .map(({ d }) => d);
}
