import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * Where `xops run` keeps its Git caches by default: the user's cache directory, never the working
 * tree it may be following. `$XDG_CACHE_HOME/xops` when that is an absolute path (the XDG rule: a
 * relative one is ignored), else `~/.cache/xops`; a home-less account falls back to the temp folder.
 */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && isAbsolute(xdg)) return join(xdg, 'xops');
  if (home) return join(home, '.cache', 'xops');
  return join(tmpdir(), 'xops-cache');
}
