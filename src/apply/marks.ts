/**
 * The ownership rule on xops' marks, as pure functions (no context, no calls), so that both the
 * lookup and the appliers can use it without depending on each other.
 */
import { MANAGED_KEY, REPO_KEY, repoMatches } from '../model/observed.js';

/**
 * True when other_config marks the object as this resource's, from this repository. A mark with no
 * repository key counts as ours (nothing else writes `xops.managed`).
 */
export function isOwnedBy(otherConfig: Record<string, string> | undefined, address: string, repo: string | undefined): boolean {
  return !!otherConfig && marksOwner(otherConfig[MANAGED_KEY], otherConfig[REPO_KEY], address, repo);
}

/** isOwnedBy's rule on a mark's two values, wherever they are kept (an appliance's are in the pool's other_config). */
export function marksOwner(managed: string | undefined, markRepo: string | undefined, address: string, repo: string | undefined): boolean {
  return managed === address && repoMatches(markRepo, repo);
}
