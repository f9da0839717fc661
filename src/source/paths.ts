import { posix } from 'node:path';

/**
 * Normalises a configured sub-folder (`--path`) to a repository-relative POSIX path without leading
 * or trailing slashes ('' for the root). Returns undefined when it would leave the repository
 * (absolute, or `..` past the root), which callers report as a configuration error.
 */
export function normaliseSubfolder(raw: string | undefined): string | undefined {
  const value = (raw ?? '').replace(/\\/g, '/').trim();
  if (value.startsWith('/')) return undefined;
  const normal = posix.normalize(value === '' ? '.' : value);
  if (normal === '..' || normal.startsWith('../')) return undefined;
  return normal === '.' || normal === './' ? '' : normal.replace(/\/+$/, '');
}

/**
 * Where a symlink at `linkPath` pointing at `target` lands, relative to the same root, or undefined
 * when it leaves the root (absolute targets always do: they would read the controller's own disk).
 */
export function resolveLinkTarget(linkPath: string, target: string): string | undefined {
  if (target.startsWith('/') || /^[A-Za-z]:[\\/]/.test(target)) return undefined;
  const joined = posix.normalize(posix.join(posix.dirname(linkPath), target.replace(/\\/g, '/')));
  if (joined === '..' || joined.startsWith('../')) return undefined;
  return joined === '.' ? '' : joined.replace(/\/+$/, '');
}
