import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatDiagnostic } from '../model/diagnostics.js';
import type { ReconcileSummary } from './status.js';
import type { ReconcileOutcome, TriggerReason } from './types.js';

/** One finished reconcile as `/history` shows it. Fields are only ever added, never renamed. */
export interface HistoryEntry {
  commit: string;
  trigger: TriggerReason[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  result: ReconcileSummary['result'];
  /** Actions by outcome: planned in total, applied successfully, failed, held back by a policy. */
  actions: { planned: number; succeeded: number; failed: number; held: number };
  drift: { found: number; healed: number };
  /** The reconcile's error and each failed action's or invalid manifest's one line, at most MAX_ERRORS. */
  errors: string[];
}

/** The body of `GET /history`: newest entry first. */
export interface HistoryDocument {
  limit: number;
  entries: HistoryEntry[];
}

/** What the history file holds (newest last, as written). */
interface HistoryFile {
  version: 1;
  entries: HistoryEntry[];
}

export const DEFAULT_HISTORY_LIMIT = 100;
/** Upper bound on `limit`, so a misconfiguration cannot make the file (and /history) unbounded. */
export const MAX_HISTORY_LIMIT = 1000;
const MAX_ERRORS = 20;
const MAX_ERROR_CHARS = 500;
/** A history file larger than this is not read (it cannot have been written by us with these bounds). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** The subset of a logger the history reports file problems to. */
export interface HistoryLogger {
  warn(obj: object, msg: string): void;
}

/** Options of a ReconcileHistory. */
export interface HistoryOptions {
  /** Where the entries persist across restarts; in memory only when absent. */
  file?: string;
  /** How many entries are kept (oldest dropped first); default 100, at most 1000. */
  limit?: number;
  logger?: HistoryLogger;
}

/**
 * A history entry from the loop's summary of a reconcile and its outcome. Pure; errors are
 * truncated to one bounded line each.
 */
export function historyEntry(summary: ReconcileSummary, outcome: ReconcileOutcome): HistoryEntry {
  const errors: string[] = [];
  if (summary.error) errors.push(summary.error);
  for (const a of outcome.applied ?? []) if (!a.ok) errors.push(`${a.address}: ${a.error ?? 'failed'}`);
  for (const d of outcome.invalid ?? []) errors.push(formatDiagnostic(d));
  const drift = outcome.drift ?? [];
  return {
    commit: summary.commit,
    trigger: [...summary.trigger],
    startedAt: summary.startedAt,
    finishedAt: summary.finishedAt,
    durationMs: summary.durationMs,
    result: summary.result,
    actions: { planned: summary.actions.planned, succeeded: summary.actions.applied, failed: summary.actions.failed, held: summary.actions.held },
    drift: { found: drift.filter((d) => !d.healed).length, healed: drift.filter((d) => d.healed).length },
    errors: errors.slice(0, MAX_ERRORS).map((e) => (e.length > MAX_ERROR_CHARS ? `${e.slice(0, MAX_ERROR_CHARS - 1)}…` : e)),
  };
}

/**
 * The last N reconciles of one pool, kept across restarts in a JSON file. Writes are atomic (a temp
 * file in the same folder, then rename), serialised, and never throw into the caller: a failed
 * write is logged and the next one tries again. A file that cannot be parsed is reported once and
 * replaced by the next write; it never stops the controller.
 */
export class ReconcileHistory {
  readonly limit: number;
  private readonly opts: HistoryOptions;
  private entries: HistoryEntry[] = [];
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  /** A failing folder is reported once per streak of failed writes, not on every reconcile. */
  private writeFailing = false;

  private constructor(options: HistoryOptions) {
    this.opts = options;
    this.limit = Math.max(1, Math.min(MAX_HISTORY_LIMIT, Math.floor(options.limit ?? DEFAULT_HISTORY_LIMIT)));
  }

  /** Opens the history, loading the file when there is one. Never rejects. */
  static async open(options: HistoryOptions = {}): Promise<ReconcileHistory> {
    const history = new ReconcileHistory(options);
    if (options.file) history.entries = (await history.load(options.file)).slice(-history.limit);
    return history;
  }

  /** Adds one entry (dropping the oldest beyond the limit) and schedules the file write. */
  record(entry: HistoryEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    this.scheduleWrite();
  }

  /** The entries, newest first; a copy. */
  document(): HistoryDocument {
    return { limit: this.limit, entries: structuredClone(this.entries).reverse() };
  }

  /** Resolves once every recorded entry is on disk (or its write failed and was logged). */
  async flush(): Promise<void> {
    while (this.dirty) await this.writing;
    await this.writing;
  }

  private scheduleWrite(): void {
    const file = this.opts.file;
    if (!file) return;
    if (this.dirty) return; // the queued write will take the newest entries
    this.dirty = true;
    this.writing = this.writing.then(async () => {
      this.dirty = false;
      const body: HistoryFile = { version: 1, entries: this.entries };
      try {
        await writeAtomically(file, JSON.stringify(body) + '\n');
        this.writeFailing = false;
      } catch (err) {
        if (!this.writeFailing) this.opts.logger?.warn({ file, err: err instanceof Error ? err.message : String(err) }, 'reconcile history: could not write the file; keeping it in memory');
        this.writeFailing = true;
      }
    });
  }

  private async load(file: string): Promise<HistoryEntry[]> {
    let text: string;
    try {
      const info = await stat(file);
      if (info.size > MAX_FILE_BYTES) return this.corrupt(file, `larger than ${MAX_FILE_BYTES} bytes`);
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      return this.corrupt(file, err instanceof Error ? err.message : String(err));
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return this.corrupt(file, `not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const entries = (parsed as Partial<HistoryFile> | null)?.entries;
    if ((parsed as Partial<HistoryFile> | null)?.version !== 1 || !Array.isArray(entries)) return this.corrupt(file, 'not a version 1 history file');
    const valid = entries.filter(isEntry);
    if (valid.length < entries.length) this.opts.logger?.warn({ file, dropped: entries.length - valid.length }, 'reconcile history: dropped malformed entries');
    return valid;
  }

  private corrupt(file: string, why: string): HistoryEntry[] {
    this.opts.logger?.warn({ file, why }, 'reconcile history: the file is unreadable; starting an empty history that replaces it');
    return [];
  }
}

function isEntry(e: unknown): e is HistoryEntry {
  if (typeof e !== 'object' || e === null) return false;
  const r = e as Record<string, unknown>;
  return (
    typeof r.commit === 'string' &&
    Array.isArray(r.trigger) &&
    typeof r.startedAt === 'string' &&
    typeof r.finishedAt === 'string' &&
    typeof r.durationMs === 'number' &&
    (r.result === 'success' || r.result === 'failure' || r.result === 'invalid') &&
    typeof r.actions === 'object' &&
    r.actions !== null &&
    typeof r.drift === 'object' &&
    r.drift !== null &&
    Array.isArray(r.errors)
  );
}

/** Writes `text` to `file` so a reader sees the old content or the new one, never half of either. */
async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { mode: 0o600, flush: true });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
