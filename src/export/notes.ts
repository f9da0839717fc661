import { terminalText } from '../render/escape.js';
/**
 * Something the operator should know about an export: an object left out and why, a name that had to
 * change, or a value they must fill in before the manifests are usable (`warning`).
 */
export interface ExportNote {
  /** `warning`: the operator must act (fill a placeholder, set a secret, rename something in the pool). */
  severity: 'info' | 'warning';
  /** Short machine-readable code, e.g. `renamed`, `managed`, `template-unknown`. */
  code: string;
  message: string;
  /** Manifest file the note concerns, relative to the output folder (absent for objects not exported). */
  file?: string;
  /** `Kind/name` of the manifest, when one was written. */
  address?: string;
  /** Path inside the manifest (`spec.template`). */
  path?: string;
}

/** `file: Kind/name: path: message`, the same shape as a diagnostic line. */
export function formatNote(note: ExportNote): string {
  const parts = [note.file, note.address, note.path].filter((p): p is string => Boolean(p));
  // Notes quote pool names: one terminal line each, whatever a name holds.
  return terminalText([...parts, (note.severity === 'warning' ? 'warning: ' : '') + note.message].join(': '));
}
