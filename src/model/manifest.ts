/** What every manifest document shares, whatever its kind: its metadata, references, secret values. */
import type { SourceLocation } from './diagnostics.js';

/** What every document carries besides its spec. */
export interface ManifestMeta {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Where the document starts (its `kind:` line), for diagnostics and policy messages. */
  source: SourceLocation;
}

/**
 * A cross-reference from one manifest to a pool object, e.g. a VM disk's `sr`.
 * `target: 'manifest'` — another manifest of that kind declares it (by metadata.name);
 * `target: 'live'` — not declared; it names an existing pool object by name_label (or uuid),
 * checked against the live pool when one was available at load time (`checked`).
 */
export interface Reference {
  name: string;
  target: 'manifest' | 'live';
  checked: boolean;
}

/** A value to be read at apply time, never stored in plans or logs. */
export interface SecretRef {
  secretRef: { env?: string; file?: string };
}

export type ConfigValue = string | SecretRef;
