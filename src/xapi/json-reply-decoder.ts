import { parseJsonKeepingBigInts } from './big-json.js';

const BATCH_CHARS = 256 * 1024;

/**
 * A streaming reader for JSON-RPC replies. `get_all_records` of a 10k-VM pool is a 25 MB reply, and one
 * JSON.parse of it blocks the event loop for ~300 ms. This reader follows the body as it arrives and,
 * when the reply's `result` is an object (a `ref -> record` map), parses it in batches of members of
 * about 256 KB each, so no single step blocks for long and parsing overlaps the transfer. Any other
 * reply is parsed whole at the end. Integers beyond 2^53 stay exact (see big-json.ts).
 */
export class JsonReplyDecoder {
  private buf = '';
  private pos = 0;
  private depth = 0;
  private inString = false;
  private strStart = -1;
  private lastString = '';
  private key = '';
  private phase: 'outer' | 'result' | 'after' = 'outer';
  private prefix = '';
  private flushFrom = 0;
  private result: Record<string, unknown> = {};

  write(chunk: string): void {
    this.buf += chunk;
    this.scan();
    if (this.phase === 'result' && this.flushFrom > 0) {
      // Drop what is already parsed; keep positions relative to the new buffer.
      const cut = this.flushFrom;
      this.buf = this.buf.slice(cut);
      this.pos -= cut;
      if (this.strStart >= 0) this.strStart -= cut;
      this.flushFrom = 0;
    }
  }

  end(): unknown {
    if (this.inString || this.depth !== 0 || this.phase === 'result') throw new Error('JSON reply cut short');
    if (this.phase === 'outer') return parseJsonKeepingBigInts(this.buf);
    const outer = parseJsonKeepingBigInts(this.prefix + 'null' + this.buf) as Record<string, unknown>;
    outer.result = this.result;
    return outer;
  }

  private scan(): void {
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
        while (k >= this.strStart + 1 && buf.charCodeAt(k) === 0x5c) k--;
        if ((q - 1 - k) % 2 === 1) {
          i = q + 1; // an escaped quote
          continue;
        }
        this.inString = false;
        if (this.depth === 1) this.lastString = buf.slice(this.strStart + 1, q);
        i = q + 1;
        continue;
      }
      const c = buf.charCodeAt(i);
      switch (c) {
        case 0x22: // "
          this.inString = true;
          this.strStart = i;
          break;
        case 0x3a: // :
          if (this.depth === 1) this.key = this.lastString;
          break;
        case 0x7b: // {
        case 0x5b: // [
          this.depth++;
          if (c === 0x7b && this.depth === 2 && this.phase === 'outer' && this.key === 'result') {
            this.phase = 'result';
            this.prefix = buf.slice(0, i);
            this.flushFrom = i + 1;
          }
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.depth--;
          if (this.phase === 'result' && this.depth === 1) {
            this.flush(i);
            this.phase = 'after';
            this.flushFrom = i + 1;
            // From here on the buffer holds the reply's tail only.
            this.buf = buf.slice(i + 1);
            this.pos = 0;
            this.strStart = -1;
            this.flushFrom = 0;
            this.scanTail();
            return;
          }
          break;
        case 0x2c: // ,
          if (this.phase === 'result' && this.depth === 2 && i - this.flushFrom >= BATCH_CHARS) {
            this.flush(i);
            this.flushFrom = i + 1;
          }
          break;
      }
      i++;
    }
    this.pos = i;
  }

  /** After the result map: the tail is tiny; track depth so end() can tell a complete reply. */
  private scanTail(): void {
    this.phase = 'after';
    this.scan();
  }

  private flush(end: number): void {
    const members = this.buf.slice(this.flushFrom, end);
    if (members.trim() === '') return;
    const batch = parseJsonKeepingBigInts(`{${members}}`) as Record<string, unknown>;
    for (const k in batch) this.result[k] = batch[k];
  }
}
