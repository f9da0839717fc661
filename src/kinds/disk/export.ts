import type { VDIRecord } from '../../model/observed.js';
import type { Candidate, ExportContext } from '../../export/context.js';
import { alreadyManaged, referenceTo } from '../../export/context.js';
import { formatSize, setIfPresent } from '../../export/values.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc, nameLabelSpec } from '../../export/manifest-doc.js';
import { STANDALONE_KEY, SOURCE_KEY } from './marks.js';
import { isDiskCandidate } from './plan.js';

/**
 * VDIs xops made as standalone disks (`xops.standalone`) whose ownership mark is gone (a repository
 * lost, or the pool handed over): each becomes a Disk manifest, and the VMs they are attached to
 * refer to it by name. Any other VDI belongs to its VM's manifest (or to nobody).
 */
export const diskExporter: KindExporter<'VDI'> = {
  kind: 'Disk',
  cls: 'VDI',
  folder: 'disks',
  select(ctx) {
    const out: Candidate<'VDI'>[] = [];
    for (const [ref, record] of ctx.observed.records.VDI) {
      if (record.other_config?.[STANDALONE_KEY] !== 'true' || !isDiskCandidate(record)) continue;
      if (alreadyManaged(ctx, 'VDI', record)) continue;
      out.push({ cls: 'VDI', ref, record });
    }
    return out;
  },
  build(ctx: ExportContext, chosen) {
    const rec: VDIRecord = chosen.record;
    const spec: Record<string, unknown> = { ...nameLabelSpec(chosen) };
    setIfPresent(spec, 'description', rec.name_description);
    spec.size = formatSize(Number(rec.virtual_size));
    spec.sr = referenceTo(ctx, 'SR', rec.SR) ?? rec.SR;
    setIfPresent(spec, 'tags', [...(rec.tags ?? [])].sort());
    const doc = manifestDoc(chosen, spec);
    const source = rec.other_config?.[SOURCE_KEY];
    // The image is written only into a new disk, so an existing disk's manifest needs no source.
    if (source) doc.trailer.push(`its data came from ${source}; add spec.source only to re-create the disk from it`);
    return doc;
  },
};
