import type { DestinationStream } from 'pino';
import { terminalText } from '../render/escape.js';

/** pino's numeric levels, as words. */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, or that say nothing to a person at a terminal. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);

/**
 * A pino destination that turns each JSON line into one line for people: `12:03:04 WARN message
 * key=value …`. The JSON has already been through pino's redaction, so secrets stay hidden here too.
 */
export function humanLogDestination(write: (text: string) => void): DestinationStream {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        write(line);
        return;
      }
      write(formatLogEntry(entry) + '\n');
    },
  };
}

/** One log entry as a human-readable line (exported for tests). */
export function formatLogEntry(entry: Record<string, unknown>): string {
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : new Date().toISOString().slice(11, 19);
  const level = LEVELS[Number(entry.level)] ?? String(entry.level);
  const fields = Object.entries(entry)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  // Messages and fields quote pool and repository names: one line of text, no terminal controls.
  return terminalText([time, level.padEnd(5), String(entry.msg ?? ''), ...fields].join(' '));
}
