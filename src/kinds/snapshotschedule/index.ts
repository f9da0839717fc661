import type { DesiredSnapshotSchedule } from '../../model/desired.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { scheduleExporter } from './export.js';
import { applySchedule } from './apply.js';
import { vmssPoolMarks } from './marks.js';
import { planSchedule, pruneSchedules } from './plan.js';
import { snapshotScheduleSchema } from './schema.js';

/** A VM snapshot schedule (XAPI VMSS): the pool snapshots its VMs on schedule and prunes beyond retention. */
export const snapshotScheduleKind = defineKind<DesiredSnapshotSchedule>({
  ...snapshotScheduleSchema,
  word: 'snapshot schedule',
  manifestOnly: true,
  classes: ['VMSS'],
  desired: 'snapshotSchedules',
  owner: { cls: 'VMSS', nameLabel: (s) => s.spec.nameLabel, marks: vmssPoolMarks },
  plan: planSchedule,
  prune: pruneSchedules,
  apply: applySchedule,
  export: scheduleExporter as KindExporter,
});
