import type { Candidate } from '../../export/context.js';
import { alreadyManaged } from '../../export/context.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc } from '../../export/manifest-doc.js';
import { declarableOtherConfig, setIfPresent } from '../../export/values.js';

/**
 * The pool's hosts, as Host manifests of their settings (description, tags, other_config). A Host
 * manifest is never adopted: it states settings of a host that exists anyway, so an exported one
 * plans as no change at all. `maintenance` is not written: it is an action to take (drain, disable),
 * not a setting the host has, and leaving it out leaves the host as it is.
 */
export const hostExporter: KindExporter<'host'> = {
  kind: 'Host',
  cls: 'host',
  folder: 'hosts',
  select(ctx) {
    const out: Candidate<'host'>[] = [];
    for (const [ref, record] of ctx.observed.records.host) {
      if (!alreadyManaged(ctx, 'host', record)) out.push({ cls: 'host', ref, record });
    }
    return out;
  },
  build(ctx, chosen) {
    const rec = chosen.record;
    // `name` (default metadata.name) finds the host: its name_label, or its uuid when the label is shared or empty.
    const unique = rec.name_label !== '' && ctx.index.byName('host', rec.name_label).length === 1;
    const name = unique ? rec.name_label : rec.uuid;
    const spec: Record<string, unknown> = name === chosen.name ? {} : { name };
    setIfPresent(spec, 'description', rec.name_description);
    setIfPresent(spec, 'tags', [...(rec.tags ?? [])].sort());
    if (ctx.otherConfig) setIfPresent(spec, 'otherConfig', declarableOtherConfig(rec.other_config));
    return manifestDoc(chosen, spec);
  },
};
