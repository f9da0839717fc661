import { poolMarkedCandidates, referenceTo } from '../../export/context.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc, nameLabelSpec } from '../../export/manifest-doc.js';

/** XAPI's placement → the manifest's spelling. */
const PLACEMENT = { anti_affinity: 'anti-affinity', normal: 'normal' } as const;

/** VM groups (VM_group) with their placement and member VMs, named by reference. */
export const groupExporter: KindExporter<'VM_group'> = {
  kind: 'VMGroup',
  cls: 'VM_group',
  folder: 'automation',
  select(ctx) {
    return poolMarkedCandidates(ctx, 'VM_group');
  },
  build(ctx, chosen) {
    const rec = chosen.record;
    const spec: Record<string, unknown> = { ...nameLabelSpec(chosen) };
    if (rec.name_description) spec.description = rec.name_description;
    spec.placement = PLACEMENT[rec.placement] ?? 'normal';
    spec.vms = (rec.VMs ?? []).flatMap((ref) => {
      const vm = ctx.index.get('VM', ref);
      return vm ? [referenceTo(ctx, 'VM', ref) ?? vm.uuid] : [];
    }).sort();
    return manifestDoc(chosen, spec);
  },
};
