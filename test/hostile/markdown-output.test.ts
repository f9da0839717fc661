/**
 * A plan posted as a pull-request comment cannot be hijacked by a name or value: no HTML
 * (`<script>`, `<img onerror>`), no `@mention` notifying anyone, no `|` or newline breaking a table
 * row, no backtick closing a code span, no closing fence ending the diagnostics block early.
 */
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/render/index.js';
import { markdownCode, markdownText } from '../../src/render/escape.js';
import { hostilePlan } from './hostile-plan.js';

/** The HTML tags the renderer itself writes; any other tag came from a name. */
const OWN_TAGS = new Set(['details', 'summary', 'code']);

/**
 * The Markdown with code removed: fenced blocks and code spans (a run of N backticks to the next run
 * of exactly N), where GitHub renders text literally: no HTML, no mention.
 */
function outsideCode(markdown: string): string {
  const lines = markdown.split('\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^`{3,}$/.exec(lines[i])?.[0];
    if (fence) {
      const end = lines.indexOf(fence, i + 1);
      i = end < 0 ? lines.length : end;
      continue;
    }
    kept.push(lines[i].replace(/(?<!`)(`+)(?!`)[^]*?(?<!`)\1(?!`)/g, ''));
  }
  return kept.join('\n');
}

/** Cells of a GitHub table row: split on `|` not escaped by a backslash. */
function cells(row: string): number {
  return row.split(/(?<!\\)\|/).length - 2;
}

describe('Markdown output', () => {
  const md = renderMarkdown(hostilePlan());
  const lines = md.split('\n');

  it('writes no HTML tag but its own (outside code, where tags are shown as text)', () => {
    const tags = [...outsideCode(md).matchAll(/(?<!\\)<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1].toLowerCase());
    expect(tags.filter((t) => !OWN_TAGS.has(t))).toEqual([]);
  });

  it('mentions nobody', () => {
    expect(md).toContain('@admins'); // inside code spans only, where GitHub links nothing
    expect(outsideCode(md)).not.toContain('@');
  });

  it('keeps every table row to its header’s cells, and every row on one line', () => {
    let header: number | undefined;
    for (const line of lines) {
      if (!line.startsWith('|')) {
        header = undefined;
        continue;
      }
      header ??= cells(line);
      expect(cells(line), line).toBe(header);
    }
    expect(lines.some((l) => l.startsWith('VM/fake'))).toBe(false);
  });

  it('fences the diagnostics so that no line inside can close the block', () => {
    const start = lines.indexOf('#### Diagnostics') + 2;
    const fence = lines[start];
    expect(fence).toMatch(/^`{3,}$/);
    const end = lines.indexOf(fence, start + 1);
    const inside = lines.slice(start + 1, end);
    expect(inside.length).toBe(1);
    for (const line of inside) expect(line.includes(fence)).toBe(false);
    expect(lines.filter((l) => /^<img/.test(l))).toEqual([]);
  });

  it('code spans keep a value exactly, backticks included, and cannot be closed from inside', () => {
    expect(markdownCode('a`b``c', false)).toBe('```a`b``c```');
    expect(markdownCode('`x', false)).toBe('`` `x ``');
    expect(markdownCode('a|b')).toBe('`a\\|b`');
    expect(markdownText('<script>@team | *x*')).toBe('\\<script\\>&#64;team \\| \\*x\\*');
  });
});
