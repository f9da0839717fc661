import { parseJsonKeepingBigInts } from './big-json.js';

const BATCH_CHARS = 256 * 1024;
// Where one record of a `ref -> record` map ends and the next begins, in XAPI's compact JSON.
const RECORD_BOUNDARY = '},"OpaqueRef:';

/**
 * A streaming reader for JSON-RPC replies. `get_all_records` of a 10k-VM pool is a 25 MB reply, and one
 * JSON.parse of it blocks the event loop for ~300 ms. This reader follows the body as it arrives and,
 * when the reply's `result` is an object, parses its members in batches of about 256 KB as soon as
 * they are complete, so no single step blocks for long and parsing overlaps the transfer.
 *
 * Batches are cut at the text `},"OpaqueRef:` (found with indexOf, at native speed). That text could
 * also sit inside a string or a nested map; a cut there always leaves an unterminated string or an
 * unclosed object, so JSON.parse rejects the batch and the reader simply cuts at a later boundary.
 * Any other reply is parsed whole at the end. Integers beyond 2^53 stay exact (see big-json.ts).
 */
export class JsonReplyDecoder {
  private buf = '';
  // Before the result object is found: a small structural scan of the reply's head.
  private pos = 0;
  private depth = 0;
  private inString = false;
  private strStart = -1;
  private lastString = '';
  private key = '';
  private phase: 'head' | 'result' = 'head';
  private prefix = '';
  // In the result: buf holds unparsed members from index 0; searchFrom is where to look for the next cut.
  private searchFrom = 0;
  private result: Record<string, unknown> = {};

  write(chunk: string): void {
    this.buf += chunk;
    if (this.phase === 'head') this.scanHead();
    if (this.phase === 'result') this.cutBatches();
  }

  end(): unknown {
    try {
      if (this.phase === 'head') return parseJsonKeepingBigInts(this.buf);
      // The tail: the last members, the result's closing brace and the rest of the reply.
      const outer = parseJsonKeepingBigInts(this.prefix + '{' + this.buf) as Record<string, unknown>;
      const last = outer.result as Record<string, unknown>;
      for (const k in last) this.result[k] = last[k];
      outer.result = this.result;
      return outer;
    } catch (err) {
      throw new Error(`JSON reply cut short or malformed: ${(err as Error).message}`);
    }
  }

  /** Finds `"result": {` at depth 1; stops scanning once inside it. */
  private scanHead(): void {
    const buf = this.buf;
    const n = buf.length;
    let i = this.pos;
    while (i < n) {
      if (this.inString) {
        const q = buf.indexOf('"', i);
        if (q < 0) {
          i = n;
          break;
        }
        let k = q - 1;
        while (k > this.strStart && buf.charCodeAt(k) === 0x5c) k--;
        i = q + 1;
        if ((q - 1 - k) % 2 === 1) continue; // an escaped quote
        this.inString = false;
        if (this.depth === 1) this.lastString = buf.slice(this.strStart + 1, q);
        continue;
      }
      const c = buf.charCodeAt(i);
      if (c === 0x22) {
        this.inString = true;
        this.strStart = i;
      } else if (c === 0x3a) {
        if (this.depth === 1) this.key = this.lastString;
      } else if (c === 0x7b || c === 0x5b) {
        this.depth++;
        if (c === 0x7b && this.depth === 2 && this.key === 'result') {
          this.phase = 'result';
          this.prefix = buf.slice(0, i);
          this.buf = buf.slice(i + 1);
          this.searchFrom = 0;
          return;
        }
      } else if (c === 0x7d || c === 0x5d) {
        this.depth--;
      }
      i++;
    }
    this.pos = i;
  }

  private cutBatches(): void {
    for (;;) {
      const at = this.buf.indexOf(RECORD_BOUNDARY, this.searchFrom);
      if (at < 0) {
        this.searchFrom = Math.max(0, this.buf.length - RECORD_BOUNDARY.length);
        return;
      }
      this.searchFrom = at + 1;
      if (at < BATCH_CHARS) continue;
      let batch: Record<string, unknown>;
      try {
        batch = parseJsonKeepingBigInts('{' + this.buf.slice(0, at + 1) + '}') as Record<string, unknown>;
      } catch {
        continue; // the boundary text was inside a string or a nested map: cut later
      }
      for (const k in batch) this.result[k] = batch[k];
      this.buf = this.buf.slice(at + 2);
      this.searchFrom = 0;
    }
  }
}
