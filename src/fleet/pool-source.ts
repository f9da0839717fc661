import type { ManifestSource, SourceSnapshot } from '../source/types.js';

/**
 * One repository read once for many pools: callers that ask while a fetch waits to start share it,
 * so twenty pools polling the same remote cost about one fetch. Every caller gets a snapshot read
 * after it asked (never an older one), so a webhook or an edit is never answered from before it.
 */
export class SharedSource {
  readonly base: ManifestSource;
  private inFlight: Promise<SourceSnapshot> | undefined;
  /** The fetch that starts once the one in flight is done; every caller until then joins it. */
  private next: Promise<SourceSnapshot> | undefined;
  private users = 0;

  constructor(base: ManifestSource) {
    this.base = base;
  }

  /** The base's newest snapshot; a failed fetch rejects every caller that joined it. */
  sync(): Promise<SourceSnapshot> {
    if (!this.inFlight) return this.start();
    this.next ??= this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<SourceSnapshot> {
    const run = this.base.sync().finally(() => {
      if (this.inFlight === run) this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
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
