/** Where in the user's repository something was written. Lines and columns are 1-based. */
export interface SourceLocation {
  /** Path relative to the manifests folder, with forward slashes. */
  file: string;
  line: number;
  col: number;
}

/**
 * A problem in the user's input (or a note about it), collected rather than thrown so that one run
 * reports every problem. `path` is the JSON path inside the document (e.g. `spec.disks[0].size`).
 */
export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Short machine-readable code, e.g. `schema`, `yaml-syntax`, `dangling-ref`, `admission`. */
  code: string;
  message: string;
  location?: SourceLocation;
  /** `Kind/name` of the document, when known. */
  address?: string;
  path?: string;
}

/** `file:line:col: Kind/name: path: message` — the one-line form the CLI prints. */
export function formatDiagnostic(d: Diagnostic): string {
  const parts: string[] = [];
  if (d.location) parts.push(`${d.location.file}:${d.location.line}:${d.location.col}`);
  if (d.address) parts.push(d.address);
  if (d.path) parts.push(d.path);
  const prefix = d.severity === 'warning' ? 'warning: ' : '';
  return [...parts, prefix + d.message].join(': ');
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}
