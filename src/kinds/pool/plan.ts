import type { DesiredPool } from '../../model/desired.js';
import type { FieldChange } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { addDiagnostic, read } from '../../plan/context.js';
import { compareField, compareOtherConfig, compareTags, makeAction, objectRef } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import { markOf } from '../../plan/ownership-marks.js';
import { resolveRef } from '../../plan/refs.js';

/**
 * A Pool manifest states settings of the one existing pool: it is never created or deleted, and
 * every setting is a live setter (disruption none).
 */
export function planPool(ctx: PlanContext, pool: DesiredPool): void {
  const entry = [...ctx.observed.records.pool.entries()][0];
  if (!entry) {
    addDiagnostic(ctx, pool, 'error', 'no-pool', 'the connected XAPI has no pool object');
    return;
  }
  const [ref] = entry;
  const rec = read(ctx, 'pool', ref)!;
  const changes: FieldChange[] = [];
  const needs: string[] = [];
  const { spec } = pool;
  if (spec.nameLabel !== undefined) compareField(changes, 'spec.nameLabel', rec.name_label, spec.nameLabel);
  if (spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, spec.description);
  let defaultSR;
  if (spec.defaultSR) {
    defaultSR = resolveRef(ctx, pool, 'spec.defaultSR', spec.defaultSR, { cls: 'SR', kind: 'SR' }, needs);
    const current = ctx.index.get('SR', rec.default_SR);
    if (defaultSR && defaultSR.uuid !== current?.uuid) {
      changes.push({ path: 'spec.defaultSR', from: current?.name_label, to: spec.defaultSR.name, disruption: 'none' });
    }
  }
  compareTags(ctx, pool, changes, rec.tags, spec.tags);
  compareOtherConfig(changes, rec.other_config, spec.otherConfig);
  if (spec.ha) {
    compareField(changes, 'spec.ha.enabled', rec.ha_enabled, spec.ha.enabled, 'none',
      spec.ha.enabled ? 'enabling HA arms the heartbeat; running VMs are not touched' : undefined);
    if (spec.ha.hostFailuresToTolerate !== undefined) {
      compareField(changes, 'spec.ha.hostFailuresToTolerate', rec.ha_host_failures_to_tolerate, spec.ha.hostFailuresToTolerate);
    }
  }
  if (changes.length === 0) return;
  ctx.actions.push(
    makeAction({
      operation: 'update',
      resource: pool,
      reason: 'pool settings are changed live',
      changes,
      objects: [objectRef('pool', ref, rec.uuid)],
      desired: { ...spec, defaultSR },
      drift: markOf(rec).spec === specDigest(pool),
      needs,
    }),
  );
}
