import type { PlanContext } from '../../plan/context.js';
import type { ObjectMark } from '../../plan/ownership-marks.js';
import { poolMarksOf, poolOtherConfigMarks, type MarkStore } from '../../plan/ownership.js';

/** VMSS uuid → marks (kept in the pool's other_config: the class has none), read once per plan. */
export function scheduleMarksOf(ctx: PlanContext): Map<string, ObjectMark> {
  return poolMarksOf(ctx, 'VMSS');
}

/** The owner rule's mark store for this kind: the pool's other_config (see poolMarkKeys). */
export const vmssPoolMarks: MarkStore<'VMSS'> = poolOtherConfigMarks('VMSS');
