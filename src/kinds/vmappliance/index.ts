import type { DesiredVMAppliance } from '../../model/desired.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { applyVMAppliance } from './apply.js';
import { applianceExporter } from './export.js';
import { linkAppliances } from './link.js';
import { appliancePoolMarks } from './marks.js';
import { planAppliance, pruneAppliances } from './plan.js';
import { vmApplianceSchema } from './schema.js';

/** A VM appliance: VMs started and stopped together, in order. */
export const vmApplianceKind = defineKind<DesiredVMAppliance>({
  ...vmApplianceSchema,
  word: 'VM appliance',
  manifestOnly: true,
  link: linkAppliances,
  classes: ['VM_appliance'],
  desired: 'appliances',
  owner: { cls: 'VM_appliance', nameLabel: (a) => a.spec.nameLabel, marks: appliancePoolMarks },
  plan: planAppliance,
  prune: pruneAppliances,
  apply: applyVMAppliance,
  export: applianceExporter as KindExporter,
});
