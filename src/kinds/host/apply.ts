import type { DesiredHost } from '../../model/desired.js';
import type { HostRecord, Ref } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { desiredSpec, removedConfigKeys, settingsToApply, specDigestOf, type Applier } from '../../apply/applier.js';
import { claimExisting } from '../../apply/claim.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError } from '../../apply/errors.js';
import { writeSpecDigest } from '../../apply/ownership.js';
import { syncField, syncMapKeys, syncSet, tryRecord } from '../../apply/xapi.js';
import { applyMaintenance } from './maintenance-apply.js';

/** A Host's desired spec as apply receives it in `action.desired`. */
export type HostSpec = DesiredHost['spec'];

const FIELDS = ['name', 'description', 'tags', 'otherConfig'];

async function findHost(ctx: ApplyContext, action: Action, spec: HostSpec): Promise<Ref> {
  const planned = action.objects.find((o) => o.cls === 'host');
  if (planned && (await tryRecord(ctx.caller, 'host', planned.ref))) return planned.ref;
  const found = (await ctx.lookup.hosts()).find(([, h]) => h.name_label === spec.name || h.uuid === spec.name);
  if (!found) throw new ApplyError(action.address, `no host is named ${spec.name}`);
  return found[0];
}

/** Applies a Host's settings (description, tags, other_config) to the existing host it names. */
export const applyHost: Applier = async (action, ctx) => {
  if (action.details?.['maintenance'] !== undefined) return applyMaintenance(action, ctx);
  // A delete only stops managing it: hosts are never removed by xops.
  const fields = settingsToApply(action, 'a host', FIELDS);
  if (!fields) return;
  const spec = desiredSpec<HostSpec>(action);
  const host = await findHost(ctx, action, spec);
  const oc = await claimExisting(ctx, action, 'host', host);
  const rec = await ctx.caller.call<HostRecord>('host.get_record', host);
  if (fields.has('description') && spec.description !== undefined) {
    await syncField(ctx.caller, 'host', host, 'name_description', rec.name_description, spec.description);
  }
  if (fields.has('tags') && spec.tags !== undefined) await syncSet(ctx.caller, 'host', host, 'tags', rec.tags, spec.tags);
  if (fields.has('otherConfig') && spec.otherConfig !== undefined) {
    await syncMapKeys(ctx.caller, 'host', host, 'other_config', oc, spec.otherConfig, removedConfigKeys(action));
  }
  await writeSpecDigest(ctx, 'host', host, oc, specDigestOf(action));
};
