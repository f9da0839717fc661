import { parseJsonBytesKeepingBigInts } from './big-json.js';

const BATCH_BYTES = 256 * 1024;
// Where one record of a `ref -> record` map ends and the next begins, in XAPI's compact JSON.
const RECORD_BOUNDARY = Buffer.from('},"OpaqueRef:', 'latin1');
const OPEN = Buffer.from('{');
const CLOSE = Buffer.from('}');
const RESULT_KEY = 'result';

/**
 * A streaming reader for JSON-RPC replies, fed the body's bytes as they arrive. `get_all_records` of
 * a 10k-VM pool is a 25 MB reply, and one JSON.parse of it blocks the event loop for ~300 ms. When
 * the reply's `result` is an object, this reader parses its members in batches of about 256 KB as
 * soon as they are complete, so no single step blocks for long and parsing overlaps the transfer.
 *
 * Every byte is copied a bounded number of times (once into a batch, once decoded to text, once
 * parsed): chunks are kept as a list, never appended to a growing buffer, and a cut is looked for only
 * in the newest chunk once a batch's worth has arrived. Batches are cut at the last `},"OpaqueRef:`
 * in that chunk (found with a native search). That text could also sit inside a string or a nested
 * map; a cut there always leaves an unterminated string or an unclosed object, so JSON.parse rejects
 * the batch, and the reader then stops cutting and parses the rest of the reply whole at the end:
 * one wasted batch at most. Any other reply is parsed whole at the end. Integers beyond 2^53 stay
 * exact (see big-json.ts).
 */
export class JsonReplyDecoder {
  // Before the result object is found: a structural scan of the reply's head, byte by byte, which
  // keeps its state across chunks (nothing is re-scanned).
  private phase: 'head' | 'result' = 'head';
  private head: Buffer[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  private stringText = '';
  private stringTooLong = false;
  private lastString = '';
  private key = '';
  // In the result: the member bytes not yet parsed, as received.
  private parts: Buffer[] = [];
  private partBytes = 0;
  private batching = true;
  private readonly result: Record<string, unknown> = {};

  // A text chunk may end in the first half of a surrogate pair: held back to join the next one.
  private highSurrogate = '';

  /** Feeds the next piece of the body: bytes as the socket delivers them (text is accepted too). */
  write(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? this.textBytes(chunk) : chunk;
    if (this.phase === 'head') {
      const at = this.scanHead(bytes);
      if (at < 0) {
        this.head.push(bytes);
        return;
      }
      // `at` is the result's `{`: what precedes it is the envelope's head, what follows its members.
      this.head.push(bytes.subarray(0, at));
      this.phase = 'result';
      this.append(bytes.subarray(at + 1));
      return;
    }
    this.append(bytes);
  }

  end(): unknown {
    if (this.highSurrogate) this.write(Buffer.from(this.highSurrogate, 'utf8'));
    try {
      if (this.phase === 'head') return parseJsonBytesKeepingBigInts(Buffer.concat(this.head));
      // The tail: the last members, the result's closing brace and the rest of the envelope.
      const outer = parseJsonBytesKeepingBigInts(Buffer.concat([...this.head, OPEN, ...this.parts])) as Record<string, unknown>;
      const last = outer[RESULT_KEY] as Record<string, unknown>;
      for (const k in last) this.result[k] = last[k];
      outer[RESULT_KEY] = this.result;
      return outer;
    } catch (err) {
      throw new Error(`JSON reply cut short or malformed: ${(err as Error).message}`);
    }
  }

  private textBytes(text: string): Buffer {
    let t = this.highSurrogate + text;
    this.highSurrogate = '';
    const last = t.charCodeAt(t.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.highSurrogate = t.slice(-1);
      t = t.slice(0, -1);
    }
    return Buffer.from(t, 'utf8');
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.partBytes += bytes.length;
    if (!this.batching || this.partBytes < BATCH_BYTES) return;
    const at = bytes.lastIndexOf(RECORD_BOUNDARY);
    if (at < 0) return; // the next chunk will have one (records are small against a chunk)
    const members = this.parts.slice(0, -1);
    members.push(bytes.subarray(0, at + 1));
    let batch: Record<string, unknown>;
    try {
      batch = parseJsonBytesKeepingBigInts(Buffer.concat([OPEN, ...members, CLOSE])) as Record<string, unknown>;
    } catch {
      // The boundary text was inside a string or a nested map: parse the rest whole at the end.
      this.batching = false;
      return;
    }
    for (const k in batch) this.result[k] = batch[k];
    const rest = bytes.subarray(at + 2); // from the next member's opening quote
    this.parts = rest.length ? [rest] : [];
    this.partBytes = rest.length;
  }

  /**
   * Follows strings and nesting through `bytes`; returns the index of the `{` that opens the value
   * of the top-level key `result`, or -1 if it is not in this chunk.
   */
  private scanHead(bytes: Buffer): number {
    const n = bytes.length;
    for (let i = 0; i < n; i++) {
      const c = bytes[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) {
          this.inString = false;
          if (this.depth === 1) this.lastString = this.stringTooLong ? '' : this.stringText;
        } else if (this.depth === 1 && !this.stringTooLong) {
          // Only keys are compared, and only to `result`: a longer string can be dropped.
          if (this.stringText.length >= 16) this.stringTooLong = true;
          else this.stringText += String.fromCharCode(c);
        }
        continue;
      }
      if (c === 0x22) {
        this.inString = true;
        this.stringText = '';
        this.stringTooLong = false;
      } else if (c === 0x3a) {
        if (this.depth === 1) this.key = this.lastString;
      } else if (c === 0x2c) {
        if (this.depth === 1) this.key = '';
      } else if (c === 0x7b || c === 0x5b) {
        this.depth++;
        if (c === 0x7b && this.depth === 2 && this.key === RESULT_KEY) return i;
      } else if (c === 0x7d || c === 0x5d) {
        this.depth--;
      }
    }
    return -1;
  }
}
