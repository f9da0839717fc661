import type { DesiredVMAppliance } from '../../model/desired.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import type { KindDefinition } from '../../manifests/build-context.js';

interface ApplianceSpec {
  nameLabel?: string;
  description?: string;
  members: { vm: string; startOrder?: number; startDelay?: number | string; shutdownDelay?: number | string }[];
}

/** A VM appliance (vApp): VMs started in order (and shut down in reverse). */
export const vmApplianceSchema: KindDefinition<DesiredVMAppliance> = {
  kind: 'VMAppliance',
  schemaFile: 'vmappliance.schema.json',
  schema: documentSchema(
    'VMAppliance',
    'VMs started and stopped together, in order',
    'A VM appliance: its members start in increasing startOrder (waiting startDelay after each) and shut down in reverse.',
    closedObject(
      {
        nameLabel: { type: 'string', minLength: 1, description: 'name_label (default: metadata.name).' },
        description: { type: 'string', description: 'name_description.' },
        members: {
          type: 'array',
          minItems: 1,
          description: 'Member VMs.',
          items: closedObject(
            {
              vm: ref('reference', 'A VM manifest name, or an existing VM\'s name_label or uuid.'),
              startOrder: { type: 'integer', minimum: 0, default: 0, description: 'VM order: lower starts first, shuts down last.' },
              startDelay: ref('duration', 'Wait after starting this VM before starting the next order (VM start_delay).'),
              shutdownDelay: ref('duration', 'Wait after shutting this VM down before the next one (VM shutdown_delay).'),
            },
            ['vm'],
          ),
        },
      },
      ['members'],
    ),
  ),
  build(raw, meta, ctx) {
    const spec = raw as unknown as ApplianceSpec;
    const seen = new Map<string, number>();
    const members = spec.members.map((member, i) => {
      const path = `spec.members[${i}]`;
      const first = seen.get(member.vm);
      if (first !== undefined) ctx.error(`${path}.vm`, `VM '${member.vm}' is already a member (spec.members[${first}])`, 'duplicate-name');
      else seen.set(member.vm, i);
      return {
        vm: ctx.ref('VM', member.vm, `${path}.vm`),
        startOrder: member.startOrder ?? 0,
        startDelay: member.startDelay === undefined ? 0 : (ctx.duration(member.startDelay, `${path}.startDelay`) ?? 0),
        shutdownDelay: member.shutdownDelay === undefined ? 0 : (ctx.duration(member.shutdownDelay, `${path}.shutdownDelay`) ?? 0),
      };
    });
    return {
      kind: 'VMAppliance',
      meta,
      spec: {
        nameLabel: spec.nameLabel ?? meta.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        members,
      },
    };
  },
};
