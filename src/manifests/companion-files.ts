/**
 * Companion files: the small non-manifest files of the manifests folder (a VM's cloud-init user-data,
 * network-config) that manifests name by `{file: PATH}`. Every source (a folder, a local checkout, a
 * Git commit) hands them over beside the manifests, in the same snapshot, so a reference resolves the
 * same way whether xops plans a folder, the controller applies a commit or `xops diff` compares two:
 * from the bytes of that revision, never from a later read of the disk.
 */
import { isManifestPath } from './manifest-path.js';

/** The largest companion file a source carries (a cloud-init part may not be larger either). */
export const MAX_COMPANION_BYTES = 1024 * 1024;

/**
 * Whether a source should carry the file at `path` (relative to the manifests folder) as a
 * companion: not a manifest, and no hidden segment (`.git/`, editor swap files) on the way.
 */
export function isCompanionPath(path: string): boolean {
  return !isManifestPath(path) && !path.split('/').some((segment) => segment.startsWith('.'));
}

/** What a load knows about the companion files: their bytes by path. */
export type CompanionFiles = ReadonlyMap<string, Buffer>;
