import type { Action } from '../model/plan.js';
import type { ApplyContext } from './context.js';
import { UnsupportedChangeError } from './errors.js';

/**
 * Carries out one plan action for one kind. Must be idempotent: it reads the current state first
 * and only makes the calls still needed, so re-running it after a crash or a retry converges.
 */
export type Applier = (action: Action, ctx: ApplyContext) => Promise<void>;

/**
 * The desired spec of an action: the planner may give the whole resolved resource (`{kind, meta,
 * spec}`) or just its spec; both are accepted.
 */
export function desiredSpec<T>(action: Action): T {
  const d = action.desired as { spec?: unknown } | undefined;
  if (d === undefined || d === null || typeof d !== 'object') {
    throw new UnsupportedChangeError(action.address, `${action.operation} action ${action.id} carries no desired spec`);
  }
  return (d.spec !== undefined && typeof d.spec === 'object' ? d.spec : d) as T;
}

/** Same as desiredSpec, but undefined when the action carries none. */
export function maybeDesiredSpec<T>(action: Action): T | undefined {
  return action.desired === undefined || action.desired === null ? undefined : desiredSpec<T>(action);
}

/**
 * The top-level spec fields an action's changes touch: `spec.disks[data].size` → `disks`. Appliers
 * converge whole fields, so they depend only on the first path segment.
 */
export function changedFields(action: Action): Set<string> {
  const out = new Set<string>();
  for (const c of action.changes) {
    const m = /^(?:spec\.)?([A-Za-z0-9_]+)/.exec(c.path);
    if (m) out.add(m[1]!);
  }
  return out;
}

/**
 * For kinds whose object always exists and is only configured (the pool, a host): the spec fields an
 * action must converge — those its changes name for an update, all of them otherwise — or undefined
 * for a delete, which only stops managing the object. Refuses operations and fields it cannot apply.
 */
export function settingsToApply(action: Action, what: string, fields: readonly string[]): Set<string> | undefined {
  if (action.operation === 'delete') return undefined;
  if (!['create', 'update', 'adopt', 'replace'].includes(action.operation)) {
    throw new UnsupportedChangeError(action.address, `${what} has no '${action.operation}' operation`);
  }
  const wanted = action.operation === 'update' ? changedFields(action) : new Set(fields);
  for (const f of wanted) {
    if (!fields.includes(f)) throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of ${what}`);
  }
  return wanted;
}

/** Digest of the desired spec to record as `xops.spec`, when the planner provided one. */
export function specDigestOf(action: Action): string | undefined {
  const d = action.details?.['specDigest'];
  return typeof d === 'string' ? d : undefined;
}

/** Keys an `otherConfig` change removes: present in `from`, absent in `to`. */
export function removedConfigKeys(action: Action, field = 'otherConfig'): string[] {
  const removed = new Set<string>();
  for (const c of action.changes) {
    if (c.path === `spec.${field}` || c.path === field) {
      const from = (c.from ?? {}) as Record<string, unknown>;
      const to = (c.to ?? {}) as Record<string, unknown>;
      for (const key of Object.keys(from)) if (!(key in to)) removed.add(key);
    } else {
      const m = new RegExp(`^(?:spec\\.)?${field}(?:\\.|\\[["']?)([^\\]"']+)`).exec(c.path);
      if (m && (c.to === undefined || c.to === null)) removed.add(m[1]!);
    }
  }
  // Marks are apply's, never the manifest's to remove.
  return [...removed].filter((k) => !k.startsWith('xops.'));
}
