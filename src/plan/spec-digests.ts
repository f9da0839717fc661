import { desiredResources, type DesiredResource, type DesiredState } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import { addressOfResource } from './context.js';
import { specDigest } from './identity.js';

/**
 * Puts `details.specDigest` (what apply writes as `other_config["xops.spec"]`) on every action of a
 * resource the desired state declares, unless the planner already did. Apply needs it to record
 * which manifest version an object was last brought to; the next plan compares it to tell drift
 * from manifest changes. Returns a new plan.
 */
export function withSpecDigests(plan: Plan, desired: DesiredState): Plan {
  const resources = desiredResources(desired);
  const byAddress = new Map<string, DesiredResource>();
  for (const r of resources) byAddress.set(addressOfResource(r), r);
  // Digested on demand: most declared resources have no action, and a digest costs a serialisation.
  const digests = new Map<string, string>();
  return {
    ...plan,
    actions: plan.actions.map((a) => {
      if (a.operation === 'delete' || typeof a.details?.['specDigest'] === 'string') return a;
      const resource = byAddress.get(a.address);
      if (!resource) return a;
      let digest = digests.get(a.address);
      if (digest === undefined) digests.set(a.address, (digest = specDigest(resource)));
      return { ...a, details: { ...(a.details ?? {}), specDigest: digest } };
    }),
  };
}
