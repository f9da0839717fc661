/**
 * What the loader can keep between loads of mostly the same files: each file's YAML parse and each
 * document's schema check, by the file's path and content, and the last few whole load
 * results. The controller holds one ManifestCache: a commit it reconciles and a `POST /plan`
 * request sending the same files share the work, and a request that changes one file of 10,000
 * parses and validates only that one. A changed file has another key, so it is always parsed and
 * validated afresh.
 */
import { repositoryLimits } from '../source/limits.js';
import { dropLeastUsed } from './least-used.js';
import type { LiveInventory } from './live.js';
import { loadManifestFiles, type LoadOptions, type LoadResult, type ManifestFile } from './loader.js';
import { isManifestPath } from './manifest-path.js';
import { changedManifests, indexForDelta, loadDelta, type DeltaIndex } from './load-delta.js';
import type { BuiltDocument, CachedParse, DocumentCheck, FileParseCache } from './file-parse-cache.js';
import type { ParsedDocument, ParseResult, YamlLimits } from './yaml.js';

export type { CachedParse, DocumentCheck, FileParseCache };

/** Bounds of a ManifestCache. */
export interface ManifestCacheOptions {
  /** Most files kept (least recently used go first); default 25,000, two repositories at the loader's file limit. */
  maxFiles?: number;
  /** Most bytes of file content the kept entries stand for; default 128 MiB. */
  maxBytes?: number;
  /** Whole load results kept (head and base of a diff, the commit in force); default 3. */
  maxResults?: number;
}

/** Companion files whose bytes a ManifestCache tells apart at once (see companionId). */
const COMPANIONS_KEPT = 10_000;

interface Entry {
  parse: CachedParse;
  bytes: number;
  /** When it was last used (the cache's clock): the least recently used go first. */
  used: number;
  /** Unique over the cache's life: a set of files is keyed by its entries' ids. */
  id: number;
  /** Set once the entry leaves the cache (replaced or evicted): a buffer's remembered entry is then looked up again. */
  dropped?: true;
}

/** A buffer's key for a path and limits, and the entry it last found (see entryOf). */
interface KnownKey {
  path: string;
  maxNodes: number;
  maxDepth: number;
  key: string;
  entry?: Entry;
}

interface ResultEntry {
  key: string;
  live: LiveInventory | undefined;
  result: LoadResult;
  /** The files loaded, and the limits (as text) they were loaded with. */
  files: ManifestFile[];
  limits: string;
  /** Made when a delta load is first tried against this one (load-delta.ts); null: it cannot serve. */
  index?: DeltaIndex | null;
}

/** What a ManifestCache has done since it was made: how much work it saved (tests read it). */
export interface ManifestCacheStats {
  /** Files parsed afresh, and files whose cached parse was used. */
  parsed: number;
  reused: number;
  /** Whole loads answered from a kept result. */
  resultHits: number;
  /** Loads made from a kept result and the few VM files that changed (load-delta.ts). */
  deltaLoads: number;
}

/**
 * A bounded cache of parsed and checked manifest files, and of whole load results. `load` returns
 * exactly what `loadManifestFiles` would for the same files, root, commit and live inventory.
 */
export class ManifestCache implements FileParseCache {
  private readonly files = new Map<string, Entry>();
  private readonly checks = new WeakMap<ParsedDocument, DocumentCheck>();
  private readonly builds = new WeakMap<ParsedDocument, BuiltDocument>();
  private readonly results: ResultEntry[] = [];
  /** Each buffer's last key, with the path and limits it was built for. */
  private readonly keys = new WeakMap<Buffer, KnownKey>();
  private bytes = 0;
  private lastId = 0;
  private clock = 0;
  private readonly maxFiles: number;
  private readonly maxBytes: number;
  private readonly maxResults: number;
  readonly stats: ManifestCacheStats = { parsed: 0, reused: 0, resultHits: 0, deltaLoads: 0 };

  constructor(options: ManifestCacheOptions = {}) {
    this.maxFiles = options.maxFiles ?? 25_000;
    this.maxBytes = options.maxBytes ?? 128 * 1024 * 1024;
    this.maxResults = options.maxResults ?? 3;
  }

  /**
   * `loadManifestFiles(files, root, opts)` through the cache. The live inventory counts by
   * identity: the controller's is rebuilt only when the pool's SRs, networks, hosts or VMs change
   * (see live.ts), and a different one never reuses a whole result (references are checked against it).
   */
  load(files: ManifestFile[], root: string, opts: Omit<LoadOptions, 'cache'> = {}): LoadResult {
    const source = { ...(opts.commit !== undefined ? { commit: opts.commit } : {}), path: root };
    const key = this.setKey(files, opts);
    const hit = key === undefined ? undefined : this.results.find((r) => r.key === key && r.live === opts.live);
    if (hit) {
      this.stats.resultHits++;
      // The same files and pool: only where they came from differs (a commit, or `local`).
      return { desired: { ...hit.result.desired, source }, diagnostics: [...hit.result.diagnostics] };
    }
    const delta = this.loadDelta(files, root, opts);
    const result = delta?.result ?? loadManifestFiles(files, root, { ...opts, cache: this });
    // Every file is cached now, unless the set was refused part way (then it is not kept whole either).
    const stored = key ?? this.setKey(files, opts);
    if (stored !== undefined) {
      this.results.unshift({ key: stored, live: opts.live, result, files, limits: JSON.stringify(repositoryLimits(opts.limits)), ...(delta ? { index: delta.index } : {}) });
      if (this.results.length > this.maxResults) this.results.pop();
    }
    return { desired: result.desired, diagnostics: [...result.diagnostics] };
  }

  /** The load of `files` from the latest kept load of the same limits and pool, when only a few VM files differ (load-delta.ts). */
  private loadDelta(files: ManifestFile[], root: string, opts: Omit<LoadOptions, 'cache'>): { result: LoadResult; index: DeltaIndex } | undefined {
    const limits = repositoryLimits(opts.limits);
    const text = JSON.stringify(limits);
    const kept = this.results.find((r) => r.live === opts.live && r.limits === text);
    if (!kept) return undefined;
    const yamlLimits = { maxNodes: limits.maxFileNodes, maxDepth: limits.maxDepth };
    const nodesOf = (file: ManifestFile) => this.entryOf(file, yamlLimits)?.parse.nodes;
    if (kept.index === undefined) kept.index = indexForDelta(kept.files, kept.result, nodesOf) ?? null;
    if (!kept.index) return undefined;
    const changed = changedManifests(kept.index, files);
    if (!changed) return undefined;
    const result = loadDelta(kept.index, kept.result, changed, limits, nodesOf, opts, (part, partOpts) => loadManifestFiles(part, root, { ...partOpts, cache: this }));
    if (result) this.stats.deltaLoads++;
    return result;
  }

  parsed(file: ManifestFile, limits: Omit<YamlLimits, 'budget'>): CachedParse | undefined {
    const entry = this.entryOf(file, limits);
    if (!entry) return undefined;
    // A clock, not a reinsertion: moving 10,000 keys to the end of the map per load costs more than the load.
    entry.used = ++this.clock;
    this.stats.reused++;
    return entry.parse;
  }

  storeParsed(file: ManifestFile, limits: Omit<YamlLimits, 'budget'>, result: ParseResult, nodes: number): void {
    this.stats.parsed++;
    const key = this.knownKey(file, limits).key;
    const old = this.files.get(key);
    if (old) {
      this.bytes -= old.bytes;
      old.dropped = true;
    }
    this.files.set(key, { parse: { result, nodes }, bytes: file.content.length, id: ++this.lastId, used: ++this.clock });
    this.bytes += file.content.length;
    if (this.files.size > this.maxFiles || this.bytes > this.maxBytes) this.evict();
  }

  /** Drops the least recently used entries until the bounds hold, and a tenth more so that this is rare. */
  private evict(): void {
    const files = Math.ceil(this.maxFiles * 0.9);
    const bytes = Math.ceil(this.maxBytes * 0.9);
    this.bytes -= dropLeastUsed(this.files, (e) => ((e.dropped = true), e.bytes), (dropped) => this.files.size <= files && this.bytes - dropped <= bytes);
  }

  checked(doc: ParsedDocument): DocumentCheck | undefined {
    return this.checks.get(doc);
  }

  storeChecked(doc: ParsedDocument, check: DocumentCheck): void {
    this.checks.set(doc, check);
  }

  built(doc: ParsedDocument): BuiltDocument | undefined {
    return this.builds.get(doc);
  }

  storeBuilt(doc: ParsedDocument, entry: BuiltDocument): void {
    this.builds.set(doc, entry);
  }

  /** Files kept now. */
  get size(): number {
    return this.files.size;
  }

  private knownKey(file: ManifestFile, limits: Omit<YamlLimits, 'budget'>): KnownKey {
    // The path is part of the key (diagnostics and locations name the file), and so is the content
    // itself, byte for byte (latin1 maps each byte to one character): no digest can collide. Built
    // once per buffer, path and limits: a load looks each file up more than once.
    const known = this.keys.get(file.content);
    // Compared field by field: building the prefix to compare would cost a string per file per load.
    if (known && known.path === file.path && known.maxNodes === limits.maxNodes && known.maxDepth === limits.maxDepth) return known;
    const key = `${limits.maxNodes}/${limits.maxDepth}\0${file.path}\0` + file.content.toString('latin1');
    const made: KnownKey = { path: file.path, maxNodes: limits.maxNodes, maxDepth: limits.maxDepth, key };
    this.keys.set(file.content, made);
    return made;
  }

  /**
   * The file's entry, remembered with its buffer's key while it stays in the cache: a lookup by key
   * hashes and compares the whole content, and each load of 10,000 files looks every one up.
   */
  private entryOf(file: ManifestFile, limits: Omit<YamlLimits, 'budget'>): Entry | undefined {
    const known = this.knownKey(file, limits);
    if (known.entry && !known.entry.dropped) return known.entry;
    const entry = this.files.get(known.key);
    if (entry) known.entry = entry;
    return entry;
  }

  /**
   * The set of files as one key: the ids of their entries in path order, and the load's limits;
   * undefined when one of them is not cached (then no whole result can match).
   */
  private setKey(files: ManifestFile[], opts: Omit<LoadOptions, 'cache'>): string | undefined {
    const limits = repositoryLimits(opts.limits);
    const yamlLimits = { maxNodes: limits.maxFileNodes, maxDepth: limits.maxDepth };
    // Sources hand their files over in path order already: sorted again only when they are not.
    const sorted = inPathOrder(files) ? files : [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const ids: string[] = [];
    for (const f of sorted) {
      if (!isManifestPath(f.path)) {
        ids.push(`c${this.companionId(f)}`);
        continue;
      }
      const entry = this.entryOf(f, yamlLimits);
      if (!entry) return undefined;
      ids.push(String(entry.id));
    }
    return `${JSON.stringify(limits)}\0${ids.join(',')}`;
  }

  /**
   * A number per companion file's path and bytes (a VM's cloud-init file is part of what a set
   * loads to), the same for the same bytes in another Buffer. Forgets them all past COMPANIONS_KEPT:
   * a forgotten one only costs a whole-result reuse.
   */
  private companionId(file: ManifestFile): number {
    const known = this.companionKeys.get(file.content);
    if (known && known.path === file.path) return known.id;
    const key = `${file.path}\0${file.content.toString('latin1')}`;
    let id = this.companionIds.get(key);
    if (id === undefined) {
      if (this.companionIds.size >= COMPANIONS_KEPT) this.companionIds.clear();
      this.companionIds.set(key, (id = ++this.lastId));
    }
    this.companionKeys.set(file.content, { path: file.path, id });
    return id;
  }
  private readonly companionIds = new Map<string, number>();
  private readonly companionKeys = new WeakMap<Buffer, { path: string; id: number }>();
}

function inPathOrder(files: readonly ManifestFile[]): boolean {
  for (let i = 1; i < files.length; i++) if (!(files[i - 1]!.path < files[i]!.path)) return false;
  return true;
}
