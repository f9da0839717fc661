import type { DesiredVMGroup } from '../../model/desired.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { groupExporter } from './export.js';
import { applyGroup } from './apply.js';
import { vmGroupPoolMarks } from './marks.js';
import { planGroup, pruneGroups } from './plan.js';
import { vmGroupSchema } from './schema.js';

/** A VM group (XAPI VM_group) with its placement policy: anti-affinity spreads its members over hosts. */
export const vmGroupKind = defineKind<DesiredVMGroup>({
  ...vmGroupSchema,
  word: 'VM group',
  manifestOnly: true,
  classes: ['VM_group'],
  desired: 'vmGroups',
  owner: { cls: 'VM_group', nameLabel: (g) => g.spec.nameLabel, marks: vmGroupPoolMarks },
  plan: planGroup,
  prune: pruneGroups,
  apply: applyGroup,
  export: groupExporter as KindExporter,
});
