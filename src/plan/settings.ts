import type { AutomationSettings, DesiredState, Match } from '../model/desired.js';

/** Glob with `*` and `?`, anchored, as policy `names` use them. */
function globMatches(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(name);
}

/** Whether a policy's `match` covers a resource. Absent or empty lists match everything. */
export function policyMatches(match: Match | undefined, kind: string, name: string, labels: Record<string, string>): boolean {
  if (!match) return true;
  if (match.kinds?.length && !match.kinds.includes(kind)) return false;
  if (match.names?.length && !match.names.some((p) => globMatches(p, name))) return false;
  for (const [k, v] of Object.entries(match.labels ?? {})) if (labels[k] !== v) return false;
  return true;
}

/**
 * The automation settings that apply to one resource: every matching Policy's `automation`, merged
 * in document order (a later policy overrides an earlier one field by field). Resources with no
 * manifest (prune candidates) are matched with no labels, so a label-scoped policy never prunes them.
 */
export function automationFor(
  desired: DesiredState,
  kind: string,
  name: string,
  labels: Record<string, string> = {},
): AutomationSettings {
  const merged: AutomationSettings = {};
  for (const p of desired.policies) {
    if (!p.spec.automation || !policyMatches(p.spec.match, kind, name, labels)) continue;
    Object.assign(merged, Object.fromEntries(Object.entries(p.spec.automation).filter(([, v]) => v !== undefined)));
  }
  return merged;
}
