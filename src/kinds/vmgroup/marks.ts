import type { Ref, VMGroupRecord } from '../../model/observed.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { poolKeptMarks, type ObjectMark } from '../../plan/ownership-marks.js';
import type { MarkStore } from '../../plan/ownership.js';

/** VM_group uuid → marks (kept in the pool's other_config: VM_group has none), read once per plan. */
export function groupMarksOf(ctx: PlanContext): Map<string, ObjectMark> {
  let marks = ctx.memo.get('VMGroup/marks') as Map<string, ObjectMark> | undefined;
  if (!marks) ctx.memo.set('VMGroup/marks', (marks = poolKeptMarks(ctx.observed, 'VM_group')));
  return marks;
}

/** The owner rule's mark store for VM groups: the pool's other_config (see poolMarkKeys). */
export const vmGroupPoolMarks: MarkStore<'VM_group'> = {
  markOf: (ctx, record) => groupMarksOf(ctx).get(record.uuid) ?? {},
  marked(ctx, cls, address) {
    for (const pool of ctx.observed.records.pool.keys()) read(ctx, 'pool', pool);
    const marked: [Ref, VMGroupRecord][] = [];
    for (const [uuid, mark] of groupMarksOf(ctx)) {
      if (mark.address !== address) continue;
      const hit = ctx.index.byUuid(cls, uuid);
      if (hit) marked.push(hit);
    }
    return marked;
  },
};
