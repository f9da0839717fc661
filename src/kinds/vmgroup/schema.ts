import type { DesiredVMGroup } from '../../model/desired.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import type { KindDefinition } from '../../manifests/build-context.js';

interface GroupSpec {
  nameLabel?: string;
  description?: string;
  placement?: 'anti-affinity' | 'normal';
  vms?: string[];
  selector?: { labels: Record<string, string> };
}

/** A VM group (XAPI VM_group, XCP-ng 8.3 / XenServer 8) with its placement policy. */
export const vmGroupSchema: KindDefinition<DesiredVMGroup> = {
  kind: 'VMGroup',
  schemaFile: 'vmgroup.schema.json',
  schema: documentSchema(
    'VMGroup',
    'VMs placed under one policy',
    'A VM group (XAPI VM_group): with placement anti-affinity its members run on different hosts where the pool allows.',
    closedObject({
      nameLabel: { type: 'string', minLength: 1, description: 'name_label (default: metadata.name).' },
      description: { type: 'string', description: 'name_description.' },
      placement: { enum: ['anti-affinity', 'normal'], default: 'normal', description: 'VM_group placement: anti_affinity or normal.' },
      vms: { type: 'array', maxItems: 10000, items: ref('reference', 'A VM manifest name, or an existing VM\'s name_label or uuid.') },
      selector: closedObject({ labels: { type: 'object', additionalProperties: { type: 'string' }, minProperties: 1 } }, ['labels']),
    }),
  ),
  build(raw, meta, ctx) {
    const spec = raw as unknown as GroupSpec;
    const seen = new Set<string>();
    const vms = (spec.vms ?? []).map((name, i) => {
      if (seen.has(name)) ctx.error(`spec.vms[${i}]`, `VM '${name}' is listed twice`, 'duplicate-name');
      seen.add(name);
      return ctx.ref('VM', name, `spec.vms[${i}]`);
    });
    if (vms.length === 0 && !spec.selector) ctx.warn('spec', 'the group names no VMs and has no selector: it has no members', 'empty-group');
    return {
      kind: 'VMGroup',
      meta,
      spec: {
        nameLabel: spec.nameLabel ?? meta.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        placement: spec.placement ?? 'normal',
        vms,
        ...(spec.selector ? { selector: { labels: spec.selector.labels } } : {}),
      },
    };
  },
};
