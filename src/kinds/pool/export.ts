import { NULL_REF } from '../../model/observed.js';
import type { Candidate } from '../../export/context.js';
import { alreadyManaged, referenceTo } from '../../export/context.js';
import { declarableOtherConfig, setIfPresent } from '../../export/values.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc } from '../../export/manifest-doc.js';

/**
 * The pool's own settings. A Pool manifest is never adopted: it states settings of the pool xops is
 * connected to, so an exported one plans as no change at all.
 */
export const poolExporter: KindExporter<'pool'> = {
  kind: 'Pool',
  cls: 'pool',
  folder: '',
  singleFile: { file: 'pool.yaml', fallbackName: 'pool' },
  select(ctx) {
    const out: Candidate<'pool'>[] = [];
    for (const [ref, record] of ctx.observed.records.pool) {
      if (alreadyManaged(ctx, 'pool', record)) continue;
      out.push({ cls: 'pool', ref, record });
    }
    return out;
  },
  build(ctx, chosen) {
    const rec = chosen.record;
    // The Pool kind's nameLabel defaults to "unchanged", so it is only written when the name had to change.
    const spec: Record<string, unknown> = rec.name_label === chosen.name ? {} : { nameLabel: rec.name_label };
    setIfPresent(spec, 'description', rec.name_description);
    if (rec.default_SR && rec.default_SR !== NULL_REF) setIfPresent(spec, 'defaultSR', referenceTo(ctx, 'SR', rec.default_SR));
    setIfPresent(spec, 'tags', [...(rec.tags ?? [])].sort());
    if (ctx.otherConfig) setIfPresent(spec, 'otherConfig', declarableOtherConfig(rec.other_config));
    if (rec.ha_enabled) spec.ha = { enabled: true, hostFailuresToTolerate: rec.ha_host_failures_to_tolerate };
    return manifestDoc(chosen, spec);
  },
};
