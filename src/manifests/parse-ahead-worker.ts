/**
 * The worker thread of parse-ahead.ts: reads a manifests folder, then parses and checks its files
 * in batches with the loader itself (so the work is exactly what the loader would do), and posts
 * what the loader cached for each batch as soon as it is done. Messages, in order: one `folder`,
 * any number of `parses`, then `done`; or `failed` at any point (the main thread then loads the
 * folder itself).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DocumentCheck, FileParseCache } from './file-parse-cache.js';
import { readManifestFolder } from './folder.js';
import { prepareManifestFiles, type ManifestFile } from './loader.js';
import { manifestOrder } from './manifest-order.js';
import { encodeParses, type TransferredParse } from './parse-transfer.js';
import { BY_WORKER, type ParseAheadInput, type ParseAheadMessage } from './parse-ahead-protocol.js';
import type { ParsedDocument, ParseResult, YamlLimits } from './yaml.js';

/** Records what the loader would cache, instead of caching it. */
class Recorder implements FileParseCache {
  readonly parses: { file: ManifestFile; limits: Omit<YamlLimits, 'budget'>; result: ParseResult; nodes: number }[] = [];
  readonly checks = new Map<ParsedDocument, DocumentCheck>();
  parsed(): undefined {
    return undefined;
  }
  storeParsed(file: ManifestFile, limits: Omit<YamlLimits, 'budget'>, result: ParseResult, nodes: number): void {
    this.parses.push({ file, limits, result, nodes });
  }
  checked(): undefined {
    return undefined;
  }
  storeChecked(doc: ParsedDocument, check: DocumentCheck): void {
    this.checks.set(doc, check);
  }
}

function post(message: ParseAheadMessage, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

async function main(input: ParseAheadInput): Promise<void> {
  const read = await readManifestFolder(input.dir, input.limits);
  const ends = new Float64Array(read.files.length);
  let total = 0;
  read.files.forEach((f, i) => (ends[i] = total += f.content.length));
  const bytes = new ArrayBuffer(total);
  const view = new Uint8Array(bytes);
  read.files.forEach((f, i) => view.set(f.content, i === 0 ? 0 : ends[i - 1]));
  const order = manifestOrder(read.files);
  const batches = Math.ceil(order.length / input.batchFiles);
  const claims = new Int32Array(new SharedArrayBuffer(4 * batches));
  post({ type: 'folder', paths: read.files.map((f) => f.path), ends, bytes, diagnostics: read.diagnostics, order, claims }, [bytes]);

  // Batches from the front; the main thread takes them from the back while it has nothing else to
  // do. The first batch it already took means every later one is taken too.
  for (let b = 0; b < batches; b++) {
    if (Atomics.compareExchange(claims, b, 0, BY_WORKER) !== 0) break;
    const batch = Array.from(order.subarray(b * input.batchFiles, (b + 1) * input.batchFiles), (i) => read.files[i]!);
    const recorder = new Recorder();
    // Only parses and checks: they depend on nothing but the file.
    prepareManifestFiles(batch, { limits: input.limits, cache: recorder });
    const byLimits = new Map<string, { limits: Omit<YamlLimits, 'budget'>; parses: TransferredParse[] }>();
    for (const p of recorder.parses) {
      const key = `${p.limits.maxNodes}/${p.limits.maxDepth}`;
      let group = byLimits.get(key);
      if (!group) byLimits.set(key, (group = { limits: p.limits, parses: [] }));
      group.parses.push({ path: p.file.path, nodes: p.nodes, result: p.result, checks: p.result.documents.map((d) => recorder.checks.get(d)) });
    }
    for (const { limits, parses } of byLimits.values()) post({ type: 'parses', limits, parses: encodeParses(parses) });
  }
  post({ type: 'done' });
}

if (parentPort) {
  main(workerData as ParseAheadInput).catch((err: unknown) => post({ type: 'failed', message: err instanceof Error ? err.message : String(err) }));
}
