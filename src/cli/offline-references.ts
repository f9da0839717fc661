import type { Diagnostic } from '../model/diagnostics.js';
import { desiredResources, type DesiredState, type Reference } from '../model/desired.js';

/** What a reference names, from the field that holds it (`network`, `sr`, `defaultSR`, ...). */
const WORD_BY_FIELD: Record<string, string> = {
  network: 'network',
  sr: 'SR',
  defaultSR: 'SR',
  host: 'host',
  affinity: 'host',
  template: 'template',
  vm: 'VM',
  appliance: 'VM appliance',
};

function isReference(value: unknown): value is Reference {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<Reference>;
  return typeof r.name === 'string' && (r.target === 'live' || r.target === 'manifest') && typeof r.checked === 'boolean';
}

/** Every reference in `value`, with its manifest path (`spec.networks[0].network`) and field name. */
function* references(value: unknown, path: string, field: string): Generator<{ ref: Reference; path: string; field: string }> {
  if (isReference(value)) {
    yield { ref: value, path, field };
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* references(value[i], `${path}[${i}]`, field);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) yield* references(v, `${path}.${key}`, key);
  }
}

/**
 * Offline (no pool to ask), a reference no manifest declares cannot be checked: one warning per
 * distinct name, at its first use, so a typo is not silence (`network 'no-such-net' must exist in
 * the pool; not checked offline`). Works over the loaded desired state, whose unchecked references
 * the loader marks `checked: false`.
 */
export function uncheckedReferenceWarnings(desired: DesiredState): Diagnostic[] {
  const byName = new Map<string, { diagnostic: Diagnostic; uses: number }>();
  for (const resource of desiredResources(desired)) {
    const address = `${resource.kind}/${resource.meta.name}`;
    const doc = desired.documents.find((d) => d.address === address);
    for (const { ref, path, field } of references(resource.spec, 'spec', 'spec')) {
      if (ref.target !== 'live' || ref.checked) continue;
      const word = WORD_BY_FIELD[field] ?? 'object';
      const key = `${word}\0${ref.name}`;
      const seen = byName.get(key);
      if (seen) {
        seen.uses++;
        continue;
      }
      byName.set(key, {
        uses: 1,
        diagnostic: {
          severity: 'warning',
          code: 'unchecked-ref',
          address,
          path,
          location: doc?.locations[path] ?? resource.meta.source,
          message: `${word} '${ref.name}' must exist in the pool; not checked offline`,
        },
      });
    }
  }
  return [...byName.values()].map(({ diagnostic, uses }) =>
    uses > 1 ? { ...diagnostic, message: `${diagnostic.message} (used ${uses} times)` } : diagnostic,
  );
}
