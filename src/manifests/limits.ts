/** Caps on what one load reads, so a hostile or mistaken repository cannot exhaust memory or time. */
export interface ManifestLimits {
  /** Manifest files per load. */
  maxFiles: number;
  /** Bytes per file. */
  maxFileBytes: number;
  /** Bytes over all files. */
  maxTotalBytes: number;
  /** Nodes per YAML document after alias expansion (stops "billion laughs"). */
  maxNodes: number;
  /** Nesting depth of YAML collections. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: ManifestLimits = {
  maxFiles: 20_000,
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxNodes: 100_000,
  maxDepth: 64,
};
