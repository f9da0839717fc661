import { DEFAULT_REPOSITORY_LIMITS, type RepositoryLimits } from '../source/limits.js';

/**
 * Caps on what one load reads: the repository budget (`src/source/limits.ts`), so the loader refuses
 * a commit for the same reasons as the source that read it.
 */
export type ManifestLimits = RepositoryLimits;

/** The loader's defaults: those of `RepositoryLimits`. */
export const DEFAULT_LIMITS: Readonly<ManifestLimits> = DEFAULT_REPOSITORY_LIMITS;
