import type { ManifestSource, SourceSnapshot } from '../source/types.js';

/**
 * One repository read once for many pools: concurrent `sync()` calls share one fetch, and a result
 * younger than `reuseMs` is handed out again, so twenty pools polling the same remote cost one fetch.
 */
export class SharedSource {
  readonly base: ManifestSource;
  private readonly reuseMs: number;
  private inFlight: Promise<SourceSnapshot> | undefined;
  private last: { at: number; snapshot: SourceSnapshot } | undefined;
  private users = 0;

  constructor(base: ManifestSource, options: { reuseMs?: number } = {}) {
    this.base = base;
    this.reuseMs = options.reuseMs ?? 1_000;
  }

  /** The base's newest snapshot; a failed fetch rejects every caller that joined it. */
  sync(): Promise<SourceSnapshot> {
    if (this.last && Date.now() - this.last.at < this.reuseMs) return Promise.resolve(this.last.snapshot);
    this.inFlight ??= this.base
      .sync()
      .then((snapshot) => ((this.last = { at: Date.now(), snapshot }), snapshot))
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** A pool's view: the files under `paths` (their union). Closing every view closes the base. */
  view(name: string, paths: string[]): ManifestSource {
    this.users++;
    let closed = false;
    const prefixes = paths.map((p) => (p === '' ? '' : `${p}/`));
    return {
      description: `${this.base.description} [${name}: ${paths.map((p) => p || '.').join(', ')}]`,
      sync: async () => {
        const snapshot = await this.sync();
        return { commit: snapshot.commit, files: selectFiles(snapshot.files, prefixes) };
      },
      close: async () => {
        if (closed) return;
        closed = true;
        if (--this.users === 0) await this.base.close();
      },
    };
  }
}

/** The files whose path starts with one of `prefixes` (`dir/`, or '' for everything), each once. */
export function selectFiles<F extends { path: string }>(files: F[], prefixes: string[]): F[] {
  return files.filter((f) => prefixes.some((p) => f.path.startsWith(p)));
}
