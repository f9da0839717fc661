import { formatDiagnostic, type Diagnostic } from '../model/diagnostics.js';
import { errnoCodesInWords } from './errno.js';

/**
 * The diagnostics as the lines a person reads on stderr: `file:line:col: Kind/name: path: message`,
 * errno codes in words, each distinct line once (loading, admission and planning can each report
 * the same problem).
 */
export function diagnosticLines(diagnostics: readonly Diagnostic[]): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const d of diagnostics) {
    const line = errnoCodesInWords(formatDiagnostic(d));
    if (seen.has(line)) continue;
    seen.add(line);
    lines.push(line);
  }
  return lines;
}

/** Writes diagnosticLines to stderr. */
export function printDiagnostics(diagnostics: readonly Diagnostic[], stream: NodeJS.WritableStream = process.stderr): void {
  for (const line of diagnosticLines(diagnostics)) stream.write(line + '\n');
}
