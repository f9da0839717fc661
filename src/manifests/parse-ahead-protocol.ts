/** The messages between parse-ahead.ts and its worker thread (parse-ahead-worker.ts). */
import type { Diagnostic } from '../model/diagnostics.js';
import type { ManifestLimits } from './limits.js';
import type { EncodedParses } from './parse-transfer.js';
import type { YamlLimits } from './yaml.js';

/** What the main thread starts the worker with. */
export interface ParseAheadInput {
  dir: string;
  limits: Partial<ManifestLimits>;
  /** Manifest files per batch: a batch is parsed by one thread, and its parses are posted together. */
  batchFiles: number;
}

/**
 * The folder as read: every file's bytes in one transferred buffer, `ends[i]` where file i ends;
 * `order` the manifest files (indexes into `paths`) in the loader's order, cut into batches of
 * `batchFiles`; `claims[b]` is 0 while batch b is free, 1 once the worker took it, 2 once the main
 * thread did (Atomics: each batch is parsed by exactly one of them).
 */
export interface FolderMessage {
  type: 'folder';
  paths: string[];
  ends: Float64Array;
  bytes: ArrayBuffer;
  diagnostics: Diagnostic[];
  order: Int32Array;
  claims: Int32Array;
}

/** claims[b] of a batch the worker parses, and of one the main thread parses. */
export const BY_WORKER = 1;
export const BY_MAIN = 2;

/** The worker's messages, in order: one `folder`, any number of `parses`, then `done`; or `failed` at any point. */
export type ParseAheadMessage =
  | FolderMessage
  | { type: 'parses'; limits: Omit<YamlLimits, 'budget'>; parses: EncodedParses }
  | { type: 'done' }
  | { type: 'failed'; message: string };

