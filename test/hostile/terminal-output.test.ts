/**
 * Names and values from the pool or the repository reach the terminal as text only: no raw control
 * character, no escape sequence (colour, cursor, screen clear, window title), no C1 CSI, no bidi
 * override, and no newline that would forge a line of the plan. The renderer's own colours remain.
 */
import { describe, expect, it } from 'vitest';
import { ConsoleReport } from '../../src/controller/console-report.js';
import { formatLogEntry } from '../../src/controller/human-log.js';
import { formatNote } from '../../src/export/index.js';
import { renderText } from '../../src/render/index.js';
import { terminalText } from '../../src/render/escape.js';
import { EVIL, hostilePlan } from './hostile-plan.js';

/** Any character a terminal acts on, other than the newline that ends a line. */
const ACTIVE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('terminal output', () => {
  it('the text plan holds no control character or escape sequence from names and values', () => {
    const text = renderText(hostilePlan(), { color: false });
    expect(text).not.toMatch(ACTIVE);
    expect(text).toContain('web\\x1b[2J\\x1b[31mred');
    expect(text).toContain('db\\x1b]0;pwned\\x07');
    expect(text).toContain('evil\\u{202e}1gpj.exe');
    // A newline in a reason is shown, not obeyed: no forged line of the plan.
    expect(text.split('\n').some((line) => line.startsWith('VM/fake'))).toBe(false);
    expect(text).toContain('because line1\\nVM/fake will be deleted');
  });

  it('with colours on, the only escape sequences are the renderer’s own colours', () => {
    const text = renderText(hostilePlan(), { color: true });
    const withoutOwnColours = text.replace(/\x1b\[\d+m/g, '');
    expect(withoutOwnColours).not.toMatch(ACTIVE);
    // Each escaped name stays inside the colour the renderer gave it (its reset is ours, not the name's).
    expect(text).toContain(`\x1b[1mVM/${terminalText(EVIL.table)}\x1b[0m`);
  });

  it('xops export notes quote pool names on one line', () => {
    const line = formatNote({ severity: 'info', code: 'renamed', address: `Network/${EVIL.ansi}`, message: `named x because '${EVIL.newline}' is not valid` });
    expect(line).not.toMatch(/[\u0000-\u001f]/);
    expect(line).toContain("because 'line1\\nVM/fake will be deleted' is not valid");
  });

  it('the controller’s console report and text log show invalid commits, drift and log fields as text', () => {
    const out: string[] = [];
    const report = new ConsoleReport((text) => void out.push(text), { color: false });
    const diagnostic = { severity: 'error' as const, code: 'schema', message: `bad ${EVIL.ansi}`, location: { file: `vms/${EVIL.newline}.yaml`, line: 1, col: 1 }, address: `VM/${EVIL.title}` };
    report.outcome({ ok: false, invalid: [diagnostic] }, { commit: 'abc', files: [] });
    report.outcome({ ok: true, drift: [{ address: `VM/${EVIL.csi}`, paths: [`spec.${EVIL.bidi}`], healed: true }] }, { commit: 'abc', files: [] });
    report.outcome({ ok: false, error: `failed on ${EVIL.newline}` }, { commit: 'abc', files: [] });
    const log = formatLogEntry({ level: 30, time: '2025-01-01T12:00:00.000Z', msg: `applied ${EVIL.ansi}`, address: `VM/${EVIL.newline}` });
    for (const text of [...out, log]) expect(text.replace(/\n$/, '').replace(/^\n/, '')).not.toMatch(ACTIVE);
    expect(out.join('').split('\n').some((line) => line.startsWith('VM/fake'))).toBe(false);
    expect(log).toBe('12:00:00 INFO  applied web\\x1b[2J\\x1b[31mred address=VM/line1\\nVM/fake will be deleted');
  });
});
