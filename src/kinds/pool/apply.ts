import type { DesiredPool } from '../../model/desired.js';
import { NULL_REF, type SRRecord } from '../../model/observed.js';
import { desiredSpec, removedConfigKeys, settingsToApply, specDigestOf, type Applier } from '../../apply/applier.js';
import { claimExisting } from '../../apply/claim.js';
import { ApplyError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { writeSpecDigest } from '../../apply/ownership.js';
import { syncField, syncMapKeys, syncSet } from '../../apply/xapi.js';

/** The Pool's desired spec as apply receives it; `defaultSR` possibly resolved to `{uuid}`. */
export type PoolSpec = Omit<DesiredPool['spec'], 'defaultSR'> & { defaultSR?: RefLike };

const FIELDS = ['nameLabel', 'description', 'defaultSR', 'tags', 'otherConfig', 'ha'];

/**
 * Applies the Pool's settings. The pool always exists, so every operation is an update of the fields
 * the changes name (all fields for create/adopt). HA is enabled with the default SR as heartbeat SR.
 */
export const applyPool: Applier = async (action, ctx) => {
  // A delete only stops managing it: the pool is never destroyed.
  const fields = settingsToApply(action, 'the pool', FIELDS);
  if (!fields) return;
  const spec = desiredSpec<PoolSpec>(action);
  // claimExisting writes other_config only, so this record stays right for every other field.
  const [pool, rec] = await ctx.lookup.pool();
  const oc = await claimExisting(ctx, action, 'pool', pool);
  if (fields.has('nameLabel') && spec.nameLabel !== undefined) await syncField(ctx.caller, 'pool', pool, 'name_label', rec.name_label, spec.nameLabel);
  if (fields.has('description') && spec.description !== undefined) {
    await syncField(ctx.caller, 'pool', pool, 'name_description', rec.name_description, spec.description);
  }
  if (fields.has('defaultSR') && spec.defaultSR !== undefined) {
    const sr = await ctx.lookup.resolve('SR', spec.defaultSR, action.address);
    await syncField(ctx.caller, 'pool', pool, 'default_SR', rec.default_SR, sr);
  }
  if (fields.has('tags') && spec.tags !== undefined) await syncSet(ctx.caller, 'pool', pool, 'tags', rec.tags, spec.tags);
  if (fields.has('otherConfig') && spec.otherConfig !== undefined) {
    await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, spec.otherConfig, removedConfigKeys(action));
  }
  if (fields.has('ha') && spec.ha !== undefined) {
    if (spec.ha.enabled && !rec.ha_enabled) {
      const [, now] = await ctx.lookup.pool();
      if (now.default_SR === NULL_REF) throw new ApplyError(action.address, 'enabling HA needs a default SR for the heartbeat');
      const sr = await ctx.caller.call<SRRecord>('SR.get_record', now.default_SR);
      if (!sr.shared) throw new ApplyError(action.address, `enabling HA needs a shared default SR; ${sr.name_label} is not shared`);
      await ctx.caller.callAsync('pool.enable_ha', [now.default_SR], {});
    } else if (!spec.ha.enabled && rec.ha_enabled) {
      await ctx.caller.callAsync('pool.disable_ha');
    }
    const tolerate = spec.ha.hostFailuresToTolerate;
    if (spec.ha.enabled && tolerate !== undefined && Number(rec.ha_host_failures_to_tolerate) !== tolerate) {
      await ctx.caller.callAsync('pool.set_ha_host_failures_to_tolerate', pool, tolerate);
    }
  }
  await writeSpecDigest(ctx, 'pool', pool, oc, specDigestOf(action));
};
