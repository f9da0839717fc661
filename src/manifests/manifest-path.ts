/** Which files are manifests: kept apart from the loader so readers of folders load nothing else. */
const MANIFEST_FILE = /\.ya?ml$/i;

/**
 * Whether a path (relative to the manifests folder, forward slashes) names a manifest: `*.yaml` or
 * `*.yml`, with no hidden segment (`.github/`, `.draft.yaml`). The one rule for every source — a
 * folder, a Git commit, `xops diff` — so a file is either a manifest everywhere or nowhere.
 */
export function isManifestPath(path: string): boolean {
  if (!MANIFEST_FILE.test(path)) return false;
  // Most paths have no segment starting with a dot: nothing to look at segment by segment.
  if (path[0] !== '.' && !path.includes('/.')) return true;
  // `..` is not hidden: such a path is kept so that the loader reports it as leaving the folder.
  return !path.split('/').some((segment) => segment.startsWith('.') && segment !== '..' && segment !== '.');
}
