/**
 * Escaping for names and values that come from the pool or the repository (both may be hostile:
 * anyone who can set a VM's name_label or push a manifest writes them) on their way into a terminal,
 * a Markdown pull-request comment or a YAML comment. Each function returns text that can only be
 * read, never act: no cursor movement, colours or terminal titles; no HTML, links, mentions or
 * table breaks; no new YAML line. Pure.
 */

/**
 * C0 controls (ESC, CR, LF, BEL, backspace…), DEL, C1 controls (CSI U+009B acts like ESC [ in many
 * terminals), the Unicode line and paragraph separators, and the bidirectional overrides and
 * isolates ("Trojan Source": they make text display in another order than it reads).
 */
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `\n`, `\t`, `\r` as such, anything else as `\xHH` or `\u{HHHH}`: visible, one line, unambiguous enough. */
function visible(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.codePointAt(0)!;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** Every unsafe character of `text` shown as an escape; the rest unchanged. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE_CHARS, visible);
}

/**
 * One line of terminal text: control characters and escape sequences are shown as escapes (`\x1b`)
 * instead of being sent to the terminal, so a name cannot recolour, move the cursor, retitle the
 * window or hide what follows it.
 */
export function terminalText(text: string): string {
  return escapeControls(text);
}

/**
 * Characters that start markup in Markdown or HTML text, shown literally by a backslash. (`_` is
 * left alone: GitHub ignores it inside words, and field names like `static_max` are everywhere.)
 */
const MARKDOWN_SPECIAL = /[\\`*[\]<>|]/g;

/**
 * Text for Markdown prose or a table cell, one line: Markdown and HTML metacharacters are escaped
 * (no `<script>`, no links, no emphasis, no `|` ending the cell), `&` cannot start an entity, an
 * `@` cannot mention anyone, and newlines and controls are shown as escapes.
 */
export function markdownText(text: string): string {
  return escapeControls(text)
    .replace(/&/g, '&amp;')
    .replace(MARKDOWN_SPECIAL, (ch) => `\\${ch}`)
    .replace(/@/g, '&#64;');
}

/**
 * An inline code span holding `text` exactly (controls shown as escapes): fenced by more backticks
 * than `text` holds in a row, so no backtick inside can close it. Inside a code span nothing is
 * markup (no HTML, links or mentions). `inTable` (default) also escapes `|`, which GitHub's tables
 * split on even inside code; a code span outside a table leaves it as is.
 */
export function markdownCode(text: string, inTable = true): string {
  let body = escapeControls(text);
  if (inTable) body = body.replace(/\|/g, '\\|');
  const fence = '`'.repeat(longestRun(body, '`') + 1);
  // A body that starts or ends with a backtick (or a space) needs a space inside the fence.
  const pad = /^[` ]|[` ]$/.test(body) ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

/** Text inside HTML (`<summary>…</summary>`): entities for `& < > " '`, no mention, one line. */
export function htmlText(text: string): string {
  return escapeControls(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/@/g, '&#64;');
}

/**
 * A fenced code block holding `lines` (each escaped for controls): the fence is longer than any run
 * of backticks inside, so no line can close the block and turn the rest of the comment into markup.
 */
export function markdownFence(lines: readonly string[]): string[] {
  const body = lines.map(escapeControls);
  const fence = '`'.repeat(Math.max(3, ...body.map((l) => longestRun(l, '`') + 1)));
  return [fence, ...body, fence];
}

/** Text for a YAML `#` comment: one line whatever it holds (a newline would start a YAML line). */
export function yamlCommentText(text: string): string {
  return escapeControls(text);
}

function longestRun(text: string, ch: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === ch ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}
