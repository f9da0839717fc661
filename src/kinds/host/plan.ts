import type { DesiredHost } from '../../model/desired.js';
import type { FieldChange } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { compareField, compareOtherConfig, compareTags, makeAction, objectRef } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import { markOf } from '../../plan/ownership-marks.js';
import { findLive } from '../../plan/refs.js';
import { planMaintenance } from './maintenance.js';

/**
 * A Host manifest states settings of an existing host (matched by name_label or uuid): never created
 * or deleted; its settings are live setters (disruption none).
 */
export function planHost(ctx: PlanContext, host: DesiredHost): void {
  const hit = findLive(ctx, host, 'spec.name', host.spec.name, { cls: 'host', kind: 'Host' });
  if (!hit) return;
  const [ref, rec] = hit;
  planMaintenance(ctx, host, ref, rec);
  const changes: FieldChange[] = [];
  if (host.spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, host.spec.description);
  compareTags(ctx, host, changes, rec.tags, host.spec.tags);
  compareOtherConfig(changes, rec.other_config, host.spec.otherConfig);
  if (changes.length === 0) return;
  ctx.actions.push(
    makeAction({
      operation: 'update',
      resource: host,
      reason: 'host settings are changed live',
      changes,
      objects: [objectRef('host', ref, rec.uuid)],
      desired: { ...host.spec, uuid: rec.uuid },
      drift: markOf(rec).spec === specDigest(host),
    }),
  );
}
