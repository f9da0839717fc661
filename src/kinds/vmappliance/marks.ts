import type { Ref, VMApplianceRecord } from '../../model/observed.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { applianceMarks, type ObjectMark } from '../../plan/ownership-marks.js';
import type { MarkStore } from '../../plan/ownership.js';

/** Appliance uuid → marks (kept in the pool's other_config: the class has none), read once per plan. */
export function applianceMarksOf(ctx: PlanContext): Map<string, ObjectMark> {
  let marks = ctx.memo.get('VMAppliance/marks') as Map<string, ObjectMark> | undefined;
  if (!marks) ctx.memo.set('VMAppliance/marks', (marks = applianceMarks(ctx.observed)));
  return marks;
}

/** The owner rule's mark store for appliances: the pool's other_config (see applianceMarkKeys). */
export const poolOtherConfigMarks: MarkStore<'VM_appliance'> = {
  markOf: (ctx, record) => applianceMarksOf(ctx).get(record.uuid) ?? {},
  marked(ctx, cls, address) {
    // The plan relied on the pool's other_config, where the marks are.
    for (const pool of ctx.observed.records.pool.keys()) read(ctx, 'pool', pool);
    const marked: [Ref, VMApplianceRecord][] = [];
    for (const [uuid, mark] of applianceMarksOf(ctx)) {
      if (mark.address !== address) continue;
      const hit = ctx.index.byUuid(cls, uuid);
      if (hit) marked.push(hit);
    }
    return marked;
  },
};
