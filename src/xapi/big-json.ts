/**
 * JSON.parse that keeps integers beyond 2^53 exact, as decimal strings. XAPI writes 64-bit ints as
 * bare JSON numbers; JS numbers would silently round them.
 *
 * Node 20's V8 (11.3) has no reviver `context.source` (the JSON.parse source text access proposal
 * is behind --harmony-json-parse-with-source there), and a reviver is called for every value
 * anyway, which costs several times JSON.parse itself. Instead: only an integer of 16 or more digits
 * can be unsafe (2^53 has 16), and such a digit run is found by looking at every 16th byte only
 * (any run of 16 covers one of them). Replies without one, nearly all, go straight to JSON.parse;
 * the others through a string-aware rewrite that quotes the unsafe numbers. Both paths are linear.
 */

const LONG_RUN = 16;

/**
 * Whether `text` (bytes or a string) may hold an integer JS cannot represent exactly: true when some
 * run of 16+ ASCII digits exists, wherever it is (inside strings too: a false alarm costs only the
 * slower path). Reads about one byte in 16 where there are no digits.
 */
export function mayHoldUnsafeInteger(text: Uint8Array | string, from = 0, to = text.length): boolean {
  return typeof text === 'string' ? longDigitRunInString(text, from, to) : longDigitRunInBytes(text, from, to);
}

// The two loops are the same; kept apart so each stays monomorphic (one element access kind).
function longDigitRunInBytes(b: Uint8Array, from: number, to: number): boolean {
  let i = from + LONG_RUN - 1;
  while (i < to) {
    let c = b[i]!;
    if (c < 0x30 || c > 0x39) {
      i += LONG_RUN;
      continue;
    }
    let start = i;
    while (start > from && (c = b[start - 1]!) >= 0x30 && c <= 0x39) start--;
    let end = i + 1;
    while (end < to && end - start < LONG_RUN && (c = b[end]!) >= 0x30 && c <= 0x39) end++;
    if (end - start >= LONG_RUN) return true;
    // No run of 16 ends before `end`; the next one that could starts after it.
    i = end + LONG_RUN;
  }
  return false;
}

function longDigitRunInString(s: string, from: number, to: number): boolean {
  let i = from + LONG_RUN - 1;
  while (i < to) {
    let c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) {
      i += LONG_RUN;
      continue;
    }
    let start = i;
    while (start > from && (c = s.charCodeAt(start - 1)) >= 0x30 && c <= 0x39) start--;
    let end = i + 1;
    while (end < to && end - start < LONG_RUN && (c = s.charCodeAt(end)) >= 0x30 && c <= 0x39) end++;
    if (end - start >= LONG_RUN) return true;
    i = end + LONG_RUN;
  }
  return false;
}

/** JSON.parse of `text`, with integers beyond 2^53 as exact decimal strings. */
export function parseJsonKeepingBigInts(text: string): unknown {
  if (!mayHoldUnsafeInteger(text)) return JSON.parse(text);
  return JSON.parse(quoteUnsafeIntegers(text));
}

/** The same for UTF-8 bytes: the digit probe runs on the bytes, before they are decoded. */
export function parseJsonBytesKeepingBigInts(bytes: Buffer): unknown {
  const text = bytes.toString('utf8');
  return JSON.parse(mayHoldUnsafeInteger(bytes) ? quoteUnsafeIntegers(text) : text);
}

/** Rewrites number tokens outside strings that JS cannot hold exactly into string literals. */
export function quoteUnsafeIntegers(text: string): string {
  const out: string[] = [];
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      // Skip the string, honouring backslash escapes.
      i++;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 0x5c) i += 2;
        else if (c === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (ch === 0x2d || (ch >= 0x30 && ch <= 0x39)) {
      const start = i;
      let digitsOnly = true;
      i++;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c >= 0x30 && c <= 0x39) i++;
        else if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) {
          digitsOnly = false;
          i++;
        } else break;
      }
      if (digitsOnly && i - start >= LONG_RUN - 1) {
        const token = text.slice(start, i);
        if (!Number.isSafeInteger(Number(token))) {
          out.push(text.slice(last, start), '"', token, '"');
          last = i;
        }
      }
      continue;
    }
    i++;
  }
  if (last === 0) return text;
  out.push(text.slice(last));
  return out.join('');
}
