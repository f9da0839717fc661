import type { DesiredState } from '../model/desired.js';
import { effectiveSettings } from '../policy/settings.js';

/**
 * Prune and adoption as the Policies decide them for one resource, with the same rules automation
 * gates on (`src/policy/settings.ts`: most restrictive wins, off by default), so the planner never
 * plans what automation would then hold for the same reason.
 */
export function automationFor(
  desired: DesiredState,
  kind: string,
  name: string,
  labels?: Record<string, string>,
): { prune: boolean; adopt: boolean } {
  const s = effectiveSettings(desired, `${kind}/${name}`, labels);
  return { prune: s.prune, adopt: s.adopt };
}
