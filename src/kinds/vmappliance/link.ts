import type { LinkContext, LinkedDocument } from '../../manifests/build-context.js';
import type { DesiredVM, DesiredVMAppliance } from '../../model/desired.js';

/**
 * Appliance membership can be written on either side (the appliance's `members`, a VM's
 * `appliance`); both must agree. A member VM that does not name its appliance gets it filled in, so
 * the planner reads membership from one place.
 */
export function linkAppliances(ctx: LinkContext): void {
  const vms = new Map<string, { doc: LinkedDocument; vm: DesiredVM }>();
  for (const b of ctx.built) if (b.doc.kind === 'VM') vms.set(b.doc.meta.name, { doc: b, vm: b.doc });
  const memberOf = new Map<string, string>();
  for (const b of ctx.built) {
    if (b.doc.kind !== 'VMAppliance') continue;
    const appliance = b.doc as DesiredVMAppliance;
    appliance.spec.members.forEach((member, i) => {
      const path = `spec.members[${i}].vm`;
      const earlier = memberOf.get(member.vm.name);
      const report = (message: string) => b.error(path, message, 'appliance');
      if (earlier !== undefined && earlier !== appliance.meta.name) {
        report(`VM '${member.vm.name}' is already a member of VMAppliance/${earlier}; a VM belongs to one appliance`);
        return;
      }
      memberOf.set(member.vm.name, appliance.meta.name);
      const target = member.vm.target === 'manifest' ? vms.get(member.vm.name) : undefined;
      if (!target) return;
      const says = target.vm.spec.appliance?.name;
      if (says === undefined) target.vm.spec.appliance = { name: appliance.meta.name, target: 'manifest', checked: true };
      else if (says !== appliance.meta.name) report(`VM/${member.vm.name} says appliance '${says}', not '${appliance.meta.name}'`);
    });
  }
  const declaredAppliances = ctx.declaredNames('VMAppliance');
  for (const { doc, vm } of vms.values()) {
    const says = vm.spec.appliance?.name;
    if (says === undefined || !declaredAppliances.has(says) || memberOf.get(vm.meta.name) === says) continue;
    doc.error('spec.appliance', `VMAppliance/${says} does not list this VM in its members`, 'appliance');
  }
}
