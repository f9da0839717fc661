import type { Match } from '../model/desired.js';

/** What a `match` selector is evaluated against: one manifest, or one resource of a plan. */
export interface MatchTarget {
  kind: string;
  name: string;
  /** Unknown labels (a resource whose manifest was removed) are an empty set. */
  labels: Readonly<Record<string, string>>;
}

/**
 * True when `target` satisfies every criterion the selector gives. An absent selector, and absent or
 * empty lists in it, match everything; `names` entries are globs where `*` is any run of characters
 * and `?` one character; `labels` needs every listed label present with exactly that value.
 */
export function matches(match: Match | undefined, target: MatchTarget): boolean {
  if (!match) return true;
  if (match.kinds && match.kinds.length > 0 && !match.kinds.includes(target.kind)) return false;
  if (match.names && match.names.length > 0 && !match.names.some((glob) => globMatches(glob, target.name))) {
    return false;
  }
  for (const [key, value] of Object.entries(match.labels ?? {})) {
    if (target.labels[key] !== value) return false;
  }
  return true;
}

/**
 * Whole-string glob match: `*` any run (also empty), `?` exactly one character, everything else
 * literal. Globs come from Policies in the repository, so no regular expression: a backtracking
 * engine takes exponential time on `*a*a*a*a*a*a*a*a*a*a*a*ab` against a name of `a`s. This is the
 * greedy wildcard match that only ever returns to the last `*`, at most glob × value steps.
 */
export function globMatches(glob: string, value: string): boolean {
  const g = [...glob];
  const v = [...value];
  let gi = 0;
  let vi = 0;
  let star = -1; // position in g just after the last `*` seen
  let resume = 0; // where in v that `*` is to absorb one more character on a mismatch
  while (vi < v.length) {
    if (gi < g.length && (g[gi] === '?' || (g[gi] !== '*' && g[gi] === v[vi]))) {
      gi++;
      vi++;
    } else if (gi < g.length && g[gi] === '*') {
      star = ++gi;
      resume = vi;
    } else if (star >= 0) {
      gi = star;
      vi = ++resume;
    } else {
      return false;
    }
  }
  while (gi < g.length && g[gi] === '*') gi++;
  return gi === g.length;
}
