import type { DesiredVM } from '../../model/desired.js';
import type { VMRecord } from '../../model/observed.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { vmProtection } from './protection.js';
import { applyVM } from './apply.js';
import { vmHealthy } from './health.js';
import { vmExporter } from './export.js';
import { isPlainVM, planVM, pruneVMs } from './plan.js';
import { vmSchema } from './schema.js';

/** A VM with its disks (VBD + VDI) and network interfaces (VIF). */
export const vmKind = defineKind<DesiredVM>({
  ...vmSchema,
  classes: ['VM', 'VBD', 'VDI', 'VIF'],
  protection: vmProtection,
  desired: 'vms',
  memoizable: true,
  owner: { cls: 'VM', nameLabel: (v) => v.spec.nameLabel, isCandidate: (r) => isPlainVM(r as VMRecord) },
  plan: planVM,
  prune: pruneVMs,
  apply: applyVM,
  health: vmHealthy,
  export: vmExporter as KindExporter,
});
