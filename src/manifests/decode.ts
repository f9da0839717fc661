/**
 * Turns a manifest file's bytes into text. UTF-8 (with or without a BOM) is the norm; UTF-16 with a
 * BOM is accepted because some Windows editors save that way. Anything else is refused with the
 * position of the first bad byte, rather than silently replaced with U+FFFD and reported later as a
 * confusing schema error.
 */
export type DecodeResult = { ok: true; text: string } | { ok: false; message: string; line: number; col: number };

export function decodeManifest(bytes: Uint8Array): DecodeResult {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return decodeUtf8(bytes, 3);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return decodeUtf16(bytes, 'utf-16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return decodeUtf16(bytes, 'utf-16be');
  return decodeUtf8(bytes, 0);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array, start: number): DecodeResult {
  let text: string;
  try {
    text = strictUtf8.decode(bytes.subarray(start));
  } catch {
    // Only a broken file pays for the byte-by-byte scan that finds where it breaks.
    const found = firstInvalidUtf8(bytes, start);
    const bad = found >= 0 ? found : start;
    const { line, col } = byteLineCol(bytes, start, bad);
    return {
      ok: false,
      message: `file is not valid UTF-8 (byte 0x${bytes[bad].toString(16).padStart(2, '0')}); save it as UTF-8`,
      line,
      col,
    };
  }
  return nulCheck(text);
}

function decodeUtf16(bytes: Uint8Array, encoding: 'utf-16le' | 'utf-16be'): DecodeResult {
  try {
    const text = new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes.subarray(2));
    return nulCheck(text);
  } catch {
    return { ok: false, message: `file starts with a ${encoding.toUpperCase()} byte-order mark but is not valid ${encoding.toUpperCase()}`, line: 1, col: 1 };
  }
}

/** NUL is not allowed in YAML; a file containing one is almost certainly binary or mis-encoded. */
function nulCheck(text: string): DecodeResult {
  const at = text.indexOf('\0');
  if (at < 0) return { ok: true, text };
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { ok: false, message: 'file contains a NUL character (binary file?)', line, col: at - before.lastIndexOf('\n') };
}

function byteLineCol(bytes: Uint8Array, start: number, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = start;
  for (let i = start; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  // Column in characters: count the lead bytes (non-continuation bytes) before the offset.
  let col = 1;
  for (let i = lineStart; i < offset; i++) if ((bytes[i] & 0xc0) !== 0x80) col++;
  return { line, col };
}

/** Index of the first byte that breaks UTF-8 (overlongs, surrogates and > U+10FFFF included), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array, start = 0): number {
  let i = start;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, cp] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [need, min, cp] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [need, min, cp] = [3, 0x10000, b & 0x07];
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}
