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

const globCache = new Map<string, RegExp>();

/** Whole-string glob match: `*` any run (also empty), `?` exactly one character, everything else literal. */
export function globMatches(glob: string, value: string): boolean {
  let re = globCache.get(glob);
  if (!re) {
    const body = [...glob]
      .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`, 's');
    globCache.set(glob, re);
  }
  return re.test(value);
}
