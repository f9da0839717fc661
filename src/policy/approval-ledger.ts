import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Plan } from '../model/plan.js';
import { approvalHash } from './approval.js';

/** Entries kept; the oldest are forgotten first (an action held that long has long been re-planned). */
export const MAX_LEDGER_ENTRIES = 10_000;

interface LedgerFile {
  /** approval hash → the first commit at which the action was held. */
  heldAt: Record<string, string>;
  /** Approval hashes given through the controller's API (`xops approve`). */
  approved: string[];
}

/**
 * What the controller remembers about approvals, kept in its cache folder: for each action (by its
 * approval hash, a digest of what it changes) the first commit at which it was held, and the
 * approvals given through its API. An annotation approval counts only at a later commit than the
 * first hold: a reviewer could see the held action before anyone approved it.
 */
export class ApprovalLedger {
  private readonly file: string | undefined;
  private readonly state: LedgerFile;
  private constructor(file: string | undefined, state: LedgerFile) {
    this.file = file;
    this.state = state;
  }

  /** The ledger in `file` (created on first save); a missing or unreadable file starts empty. */
  static async open(file: string | undefined): Promise<ApprovalLedger> {
    let state: LedgerFile = { heldAt: {}, approved: [] };
    if (file) {
      try {
        const raw = JSON.parse(await readFile(file, 'utf8')) as Partial<LedgerFile>;
        state = {
          heldAt: typeof raw.heldAt === 'object' && raw.heldAt !== null ? Object.fromEntries(Object.entries(raw.heldAt).filter(([, v]) => typeof v === 'string')) : {},
          approved: Array.isArray(raw.approved) ? raw.approved.filter((h): h is string => typeof h === 'string') : [],
        };
      } catch {
        // First run, or a damaged file: forgetting holds only delays approvals, it never grants one.
      }
    }
    return new ApprovalLedger(file, state);
  }

  /** For gatedPlan's annotationCounts at `commit`: true once the action was held at another, earlier commit. */
  countsAt(commit: string): (hash: string) => boolean {
    return (hash) => {
      const first = this.state.heldAt[hash];
      return first !== undefined && first !== commit;
    };
  }

  /** Remembers `commit` for every held action seen for the first time. Returns whether anything changed. */
  noteHeld(plan: Plan, commit: string): boolean {
    let changed = false;
    for (const action of plan.actions) {
      if (action.gate.state !== 'held') continue;
      const hash = approvalHash(action);
      if (this.state.heldAt[hash] !== undefined) continue;
      this.state.heldAt[hash] = commit;
      changed = true;
    }
    const keys = Object.keys(this.state.heldAt);
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_LEDGER_ENTRIES))) delete this.state.heldAt[k];
    return changed;
  }

  /** Records an approval given through the API (`xops approve HASH`). */
  approve(hash: string): void {
    if (!/^[0-9a-f]{12}$/.test(hash)) throw new Error(`not an approval hash: ${hash.slice(0, 40)}`);
    if (!this.state.approved.includes(hash)) this.state.approved.push(hash);
    if (this.state.approved.length > MAX_LEDGER_ENTRIES) this.state.approved.splice(0, this.state.approved.length - MAX_LEDGER_ENTRIES);
  }

  /** The approvals given through the API, for gatedPlan's `approvals`. */
  approved(): string[] {
    return [...this.state.approved];
  }

  /** Writes the ledger (atomically: a crash leaves the old or the new file). No-op without a file. */
  async save(): Promise<void> {
    if (!this.file) return;
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(this.state) + '\n', { mode: 0o600 });
    await rename(tmp, this.file);
  }
}
