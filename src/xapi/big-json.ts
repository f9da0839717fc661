/**
 * JSON.parse that keeps integers beyond 2^53 exact, as decimal strings. XAPI writes 64-bit ints as
 * bare JSON numbers; JS numbers would silently round them. The fast path is plain JSON.parse: a
 * cheap regex finds whether any long digit run sits in number position at all.
 */
const LONG_NUMBER = /[:[,]\s*-?\d{16,}\s*[,}\]]/;

export function parseJsonKeepingBigInts(text: string): unknown {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text);
  return JSON.parse(quoteUnsafeIntegers(text));
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
      i++;
      while (i < n) {
        const c = text.charCodeAt(i);
        if ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) i++;
        else break;
      }
      const token = text.slice(start, i);
      if (/^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out.push(text.slice(last, start), '"', token, '"');
        last = i;
      }
      continue;
    }
    i++;
  }
  if (last === 0) return text;
  out.push(text.slice(last));
  return out.join('');
}
