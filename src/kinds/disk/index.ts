import type { DesiredStandaloneDisk } from '../../model/desired.js';
import type { VDIRecord } from '../../model/observed.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { applyDisk } from './apply.js';
import { measureImage } from './upload.js';
import { diskExporter } from './export.js';
import { isDiskCandidate, planDisk, pruneDisks, vmsOnDisk } from './plan.js';
import { diskSchema } from './schema.js';

/** A standalone disk: one VDI, attached to VMs by their manifests (`disks: [{disk: NAME}]`). */
export const diskKind = defineKind<DesiredStandaloneDisk>({
  ...diskSchema,
  classes: ['VDI'],
  measure: measureImage,
  desired: 'disks',
  owner: { cls: 'VDI', nameLabel: (d) => d.spec.nameLabel, isCandidate: (r) => isDiskCandidate(r as VDIRecord) },
  plan: planDisk,
  prune: pruneDisks,
  usersOf: vmsOnDisk,
  apply: applyDisk,
  export: diskExporter as KindExporter,
});
