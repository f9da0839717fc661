import type { Reference } from '../model/desired.js';

/** A member a grouping manifest selects, with the path to report problems at. */
export interface SelectedMember {
  ref: Reference;
  path: string;
}

/**
 * The members of a manifest that groups other resources (a snapshot schedule, a VM group): those it
 * names in `spec.vms`, then the `candidates` (manifests of the member kind) whose labels match every
 * label of `selector`, each once. Pure.
 */
export function namedOrSelected(
  named: readonly Reference[],
  selector: Readonly<Record<string, string>> | undefined,
  candidates: readonly { meta: { name: string; labels: Readonly<Record<string, string>> } }[],
): SelectedMember[] {
  const out = named.map((ref, i) => ({ ref, path: `spec.vms[${i}]` }));
  if (!selector) return out;
  const taken = new Set(named.map((r) => r.name));
  for (const c of candidates) {
    if (taken.has(c.meta.name) || !Object.entries(selector).every(([k, v]) => c.meta.labels[k] === v)) continue;
    out.push({ ref: { name: c.meta.name, target: 'manifest', checked: true }, path: 'spec.selector' });
  }
  return out;
}
