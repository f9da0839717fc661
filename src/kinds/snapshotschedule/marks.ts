import type { Ref, VMSSRecord } from '../../model/observed.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { poolKeptMarks, type ObjectMark } from '../../plan/ownership-marks.js';
import type { MarkStore } from '../../plan/ownership.js';

/** VMSS uuid → marks (kept in the pool's other_config: VMSS has none), read once per plan. */
export function scheduleMarksOf(ctx: PlanContext): Map<string, ObjectMark> {
  let marks = ctx.memo.get('SnapshotSchedule/marks') as Map<string, ObjectMark> | undefined;
  if (!marks) ctx.memo.set('SnapshotSchedule/marks', (marks = poolKeptMarks(ctx.observed, 'VMSS')));
  return marks;
}

/** The owner rule's mark store for schedules: the pool's other_config (see poolMarkKeys). */
export const vmssPoolMarks: MarkStore<'VMSS'> = {
  markOf: (ctx, record) => scheduleMarksOf(ctx).get(record.uuid) ?? {},
  marked(ctx, cls, address) {
    for (const pool of ctx.observed.records.pool.keys()) read(ctx, 'pool', pool);
    const marked: [Ref, VMSSRecord][] = [];
    for (const [uuid, mark] of scheduleMarksOf(ctx)) {
      if (mark.address !== address) continue;
      const hit = ctx.index.byUuid(cls, uuid);
      if (hit) marked.push(hit);
    }
    return marked;
  },
};
