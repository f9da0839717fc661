/**
 * Reading, parsing and checking a manifests folder while the main thread waits for something else
 * (a cold `xops plan` fetches the pool meanwhile). With a core to share, a worker thread reads the
 * folder and parses its files in batches from the front, and the main thread takes batches from
 * the back (each batch goes to exactly one of them); without one, the main thread reads and parses
 * them all. The main thread does its part only at moments its event loop is idle (idle-gate.ts),
 * and at full speed once the result is asked for. What comes back is the folder as
 * read and a FileParseCache holding each file's parse and each document's check: the loader run
 * with that cache skips that work and gives the same result it gives without it (the cache's
 * contract). References to the pool are resolved only in that final load, which is why the worker
 * cannot do it all.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { readManifestFolder } from './folder.js';
import { manifestOrder } from './manifest-order.js';
import type { FileParseCache } from './file-parse-cache.js';
import { IdleGate } from './idle-gate.js';
import { PreparedParses } from './prepared-parses.js';
import type { FolderRead } from './folder.js';
import type { ManifestLimits } from './limits.js';
import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredState } from '../model/desired.js';
import type { LoadOptions, ManifestFile } from './loader.js';
import { BY_MAIN, type ParseAheadInput, type ParseAheadMessage } from './parse-ahead-protocol.js';
import { decodeParses, type EncodedParses } from './parse-transfer.js';
import type { YamlLimits } from './yaml.js';

/** What a finished parse-ahead gives the loader: pass `read` and `cache` to loadManifests. */
export interface PreparedFolder {
  read: FolderRead;
  cache: FileParseCache;
}

/** A parse-ahead under way. */
export interface ParseAhead {
  /**
   * The folder and its parses once both threads are done; undefined when it failed (the worker
   * could not start, ran out of its memory or hit an error) or was stopped: the caller then loads
   * the folder itself. Never rejects.
   */
  prepared(): Promise<PreparedFolder | undefined>;
  /**
   * Stops the work if it is still running, and lets go of what it prepared (idempotent): call it
   * once the load is done, so that the parses can be collected. `prepared()` then gives undefined.
   */
  stop(): Promise<void>;
}

/** Options of startParseAhead. */
export interface ParseAheadOptions {
  /** The limits the folder is later loaded with (the parses are valid for those only). */
  limits?: Partial<ManifestLimits>;
  /** The worker's module; by default the compiled parse-ahead-worker.js next to this module. */
  workerUrl?: URL;
  /** Manifest files per batch (default 100: one batch on the main thread blocks it for tens of ms at most). */
  batchFiles?: number;
  /** Whether the main thread takes batches too when a worker runs (default true). */
  mainThreadBatches?: boolean;
  /**
   * Whether a worker thread parses (with the main thread taking batches too), or the main thread
   * alone, between its other work. The worker costs CPU of its own (loading the loader's modules,
   * copying the parses over): by default it runs when the machine has more than one core and the
   * last minute's load is at most one more than their number (see spareCore).
   */
  worker?: boolean;
  /** Heap cap of the worker in MiB (default 1024): past it the worker dies, and the caller loads the folder itself. */
  maxHeapMiB?: number;
}

type Limits = Omit<YamlLimits, 'budget'>;

/** Files the main thread parses in one go (of a batch it took): some 10-20 ms. */
const MAIN_SLICE_FILES = 25;

export { PreparedParses };

/**
 * More than one core, and the last minute's load not past one more than there are. A worker pays
 * even on a busy machine: at 10,000 VMs on 2 cores under a load of 2 to 3 (the simulator serving
 * the replies), a cold JSON-RPC plan took 4.2-4.7 s with it and 4.6-5.1 s without, and held less
 * memory (380-400 MiB against 390-530), though it spends more CPU in all (the worker's own start).
 * Past that the cores are oversubscribed and the worker only competes with what runs.
 */
function spareCore(): boolean {
  const cores = availableParallelism();
  return cores > 1 && loadavg()[0]! <= cores + 1;
}

/**
 * `loadManifests(dir, opts)` with what `ahead` prepared for `dir` (the same result, with less work
 * left), or as it is when the parse-ahead failed; then stops `ahead`, so its parses do not outlive
 * the load (their location maps are copied into the desired state).
 */
export async function loadPrepared(ahead: ParseAhead, dir: string, opts: Omit<LoadOptions, 'cache'> = {}): Promise<{ desired: DesiredState; diagnostics: Diagnostic[] }> {
  const { loadManifests } = await import('./index.js');
  try {
    const prepared = await ahead.prepared();
    return await loadManifests(dir, { ...opts, cache: prepared?.cache }, prepared?.read);
  } finally {
    await ahead.stop();
  }
}

/** Starts reading and parsing `dir`; the work runs until prepared() settles or stop() is called. */
export function startParseAhead(dir: string, options: ParseAheadOptions = {}): ParseAhead {
  const input: ParseAheadInput = { dir, limits: options.limits ?? {}, batchFiles: options.batchFiles ?? 100 };
  let cache = new PreparedParses();
  let read: FolderRead | undefined;
  let byPath = new Map<string, ManifestFile>();
  let worker: Worker | undefined;
  let settle!: (value: PreparedFolder | undefined) => void;
  let result = new Promise<PreparedFolder | undefined>((resolve) => (settle = resolve));
  let settled = false;
  const gate = new IdleGate();
  // The worker's parses wait here until the main thread has a moment to unpack them.
  const pending: { limits: Limits; parses: EncodedParses }[] = [];
  let workerDone = false;
  let arrived: (() => void) | undefined;
  const notify = () => {
    arrived?.();
    arrived = undefined;
  };

  const finish = (ok: boolean) => {
    if (settled) return;
    settled = true;
    settle(ok && read ? { read, cache } : undefined);
    notify();
    // Its work is over either way: its heap goes now, not when the process exits.
    void worker?.terminate();
  };
  const release = () => {
    finish(false);
    // The parses are the loader's now (or garbage): nothing here keeps them alive.
    result = Promise.resolve(undefined);
    cache = new PreparedParses();
    read = undefined;
    byPath = new Map();
    pending.length = 0;
  };
  const handle: ParseAhead = {
    prepared: () => {
      gate.hurry();
      return result;
    },
    stop: async () => release(),
  };

  function unpack(message: { limits: Limits; parses: EncodedParses }): void {
    for (const p of decodeParses(message.parses)) {
      const file = byPath.get(p.path);
      if (!file) continue;
      cache.storeParsed(file, message.limits, p.result, p.nodes);
      p.result.documents.forEach((doc, i) => {
        const check = p.checks[i];
        if (check) cache.storeChecked(doc, check);
      });
    }
  }

  /**
   * The main thread's part, one step per idle moment: unpack what the worker sent, or take a batch
   * from the back while the worker has not reached it; then wait for the worker's last message.
   */
  async function mainThread(claims: Int32Array, order: Int32Array, files: ManifestFile[], takeBatches: boolean): Promise<void> {
    const { prepareManifestFiles } = await import('./loader.js');
    let back = claims.length - 1;
    for (;;) {
      await gate.idle();
      if (settled) return;
      const message = pending.shift();
      if (message) {
        unpack(message);
        continue;
      }
      if (takeBatches && back >= 0 && Atomics.compareExchange(claims, back, 0, BY_MAIN) === 0) {
        const batch = Array.from(order.subarray(back * input.batchFiles, (back + 1) * input.batchFiles), (i) => files[i]!);
        back--;
        // In slices, each at an idle moment of its own: a whole batch would block for up to 100 ms.
        for (let at = 0; at < batch.length; at += MAIN_SLICE_FILES) {
          if (at > 0) await gate.idle();
          if (settled) return;
          prepareManifestFiles(batch.slice(at, at + MAIN_SLICE_FILES), { limits: input.limits, cache });
        }
        continue;
      }
      // The first batch already taken means every one before it is the worker's.
      takeBatches = false;
      if (workerDone) return;
      await new Promise<void>((resolve) => (arrived = resolve));
    }
  }
  const run = (claims: Int32Array, order: Int32Array, files: ManifestFile[], takeBatches: boolean) =>
    mainThread(claims, order, files, takeBatches).then(
      () => finish(true),
      () => finish(false),
    );

  if (!(options.worker ?? spareCore())) {
    // No core to spare: the main thread does it all, in batches, when it has nothing else to do.
    workerDone = true;
    void (async () => {
      const folder = await readManifestFolder(dir, input.limits);
      read = folder;
      const order = manifestOrder(folder.files);
      await run(new Int32Array(Math.ceil(order.length / input.batchFiles)), order, folder.files, true);
    })().catch(() => finish(false));
    return handle;
  }

  try {
    worker = new Worker(options.workerUrl ?? new URL('./parse-ahead-worker.js', import.meta.url), {
      workerData: input,
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMiB ?? 1024 },
    });
  } catch {
    finish(false);
    return handle;
  }
  worker.on('message', (m: ParseAheadMessage) => {
    if (settled) return;
    if (m.type === 'folder') {
      try {
        const files = m.paths.map((path, i) => {
          const start = i === 0 ? 0 : m.ends[i - 1]!;
          return { path, content: Buffer.from(m.bytes, start, m.ends[i]! - start) };
        });
        read = { files, diagnostics: m.diagnostics };
        byPath = new Map(files.map((f) => [f.path, f]));
        void run(m.claims, m.order, files, options.mainThreadBatches !== false);
      } catch {
        finish(false);
      }
    } else if (m.type === 'parses') {
      pending.push(m);
      notify();
    } else if (m.type === 'done') {
      workerDone = true;
      notify();
    } else {
      finish(false);
    }
  });
  worker.on('error', () => finish(false));
  // After `done` this is the terminate() above; before it, the worker died.
  worker.on('exit', () => {
    if (!workerDone) finish(false);
  });
  return handle;
}
