import type { DesiredSR } from '../../model/desired.js';
import type { PBDRecord, Ref, SRRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { adoptObject } from '../../apply/adopt.js';
import { changedFields, desiredSpec, specDigestOf, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, UnsupportedChangeError, isPermanent } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { sortPending } from '../../apply/claim.js';
import { PENDING_KEY, assertOwned, isOwnedBy, markCreated, ownershipMarks, pendingName, writeSpecDigest } from '../../apply/ownership.js';
import { allRecords, isXapiError, recordsByName, syncField, syncMapKeys, syncSet, tryRecord } from '../../apply/xapi.js';
import { resolveConfig, type ResolvedConfig } from '../../secrets/index.js';
import { credentialDigests, destroyOwnSecrets, rotateSecret, secretBackedKeys, xapiDeviceConfig } from './secret-objects.js';

/** An SR's desired spec as apply receives it; `deviceConfig` values may still be secretRefs. */
export type SrSpec = Omit<DesiredSR['spec'], 'host'> & { host?: RefLike };

const UPDATABLE = new Set(['nameLabel', 'description', 'tags']);

/**
 * SR.create cannot write other_config, so the SR is created under the pending name, then marked,
 * then renamed: an SR found under the pending name was made by an interrupted apply.
 */
async function findSR(ctx: ApplyContext, action: Action, spec: SrSpec | undefined): Promise<Ref | undefined> {
  const planned = action.objects.find((o) => o.cls === 'SR');
  if (planned && (await tryRecord(ctx.caller, 'SR', planned.ref))) return planned.ref;
  const owned = ([, r]: [Ref, SRRecord]) => isOwnedBy(r.other_config, action.address, ctx.repo);
  if (spec?.nameLabel !== undefined) {
    const found = (await recordsByName<SRRecord>(ctx.caller, 'SR', spec.nameLabel)).find(owned);
    if (found) return found[0];
  }
  const pending = await recordsByName<SRRecord>(ctx.caller, 'SR', pendingName(action.address));
  // Another repository's or resource's SR under our pending name, or two unmarked ones: a conflict.
  const { ours, unmarked } = sortPending('SR', action.address, ctx.repo, pending, (r) => r.other_config);
  if (ours[0]) return ours[0][0];
  if (unmarked[0]) {
    // SR.create writes no other_config: a single unmarked SR under this exact pending name is the interrupted create's.
    await markCreated(ctx, 'SR', unmarked[0][0], action.address, { [PENDING_KEY]: 'create' });
    return unmarked[0][0];
  }
  return undefined;
}

/** The host whose PBD an SR needs: the declared one for a local SR, the pool master otherwise. */
async function srHost(ctx: ApplyContext, action: Action, spec: SrSpec): Promise<Ref> {
  if (spec.host !== undefined) return ctx.lookup.resolve('Host', spec.host, action.address);
  const [, pool] = await ctx.lookup.pool();
  return pool.master;
}

/**
 * Every host that must have a plugged PBD: all of them for a shared SR, else the SR's own host.
 * `deviceConfig` is what XAPI gets (see xapiDeviceConfig): secret-backed credentials name xops' secret.
 */
async function convergePbds(ctx: ApplyContext, action: Action, sr: Ref, spec: SrSpec, deviceConfig: Record<string, string>): Promise<void> {
  const pbds = (await allRecords<PBDRecord>(ctx.caller, 'PBD')).filter(([, p]) => p.SR === sr);
  const wanted = spec.shared ? (await ctx.lookup.hosts()).map(([h]) => h) : [await srHost(ctx, action, spec)];
  for (const host of wanted) {
    let pbd = pbds.find(([, p]) => p.host === host);
    if (!pbd) {
      try {
        const ref = await ctx.caller.callAsync<Ref>('PBD.create', {
          host,
          SR: sr,
          device_config: deviceConfig,
          other_config: ownershipMarks(ctx, action.address),
        });
        pbd = [ref, await ctx.caller.call<PBDRecord>('PBD.get_record', ref)];
      } catch (err) {
        if (!isXapiError(err, 'PBD_EXISTS')) throw err;
        const existing = err.params[2];
        if (!existing) throw err;
        pbd = [existing, await ctx.caller.call<PBDRecord>('PBD.get_record', existing)];
      }
    }
    if (!pbd[1].currently_attached) await ctx.caller.callAsync('PBD.plug', pbd[0]);
  }
}

async function converge(ctx: ApplyContext, action: Action, sr: Ref, spec: SrSpec, fields: Set<string>): Promise<void> {
  const rec = await ctx.caller.call<SRRecord>('SR.get_record', sr);
  if (fields.has('nameLabel')) {
    if (rec.name_label !== spec.nameLabel) await ctx.caller.callAsync('SR.set_name_label', sr, spec.nameLabel);
  }
  if (fields.has('description') && rec.name_description !== (spec.description ?? '')) {
    await ctx.caller.callAsync('SR.set_name_description', sr, spec.description ?? '');
  }
  if (fields.has('tags')) await syncSet(ctx.caller, 'SR', sr, 'tags', rec.tags, spec.tags ?? []);
}

async function create(ctx: ApplyContext, action: Action, config: ResolvedConfig): Promise<void> {
  const spec = desiredSpec<SrSpec>(action);
  let sr = await findSR(ctx, action, spec);
  const deviceConfig = await xapiDeviceConfig(ctx, action.address, spec.type, config);
  if (!sr) {
    try {
      sr = await ctx.caller.callAsync<Ref>(
        'SR.create',
        await srHost(ctx, action, spec),
        deviceConfig,
        0,
        pendingName(action.address),
        spec.description ?? '',
        spec.type,
        spec.contentType ?? '',
        spec.shared,
        {},
      );
    } catch (err) {
      // XAPI answered: no SR was made (XAPI removes its half-made record), so the secrets serve nothing. A call
      // with no answer may have made one: its secrets stay for the next run, which finds the SR.
      if (isXapiError(err)) await destroyOwnSecrets(ctx, action.address);
      throw err;
    }
    // A repeated SR.create (reply lost, call resent) leaves an unmarked twin under the pending name: forget it.
    for (const [other, rec] of await recordsByName<SRRecord>(ctx.caller, 'SR', pendingName(action.address))) {
      if (other === sr || isOwnedBy(rec.other_config, action.address, ctx.repo)) continue;
      for (const pbd of rec.PBDs) if (await ctx.caller.call<boolean>('PBD.get_currently_attached', pbd)) await ctx.caller.callAsync('PBD.unplug', pbd);
      await ctx.caller.callAsync('SR.forget', other);
    }
    // Every mark in one call: the SR under the pending name is unmarked or fully marked.
    await markCreated(ctx, 'SR', sr, action.address, { [PENDING_KEY]: 'create' });
  }
  await convergePbds(ctx, action, sr, spec, deviceConfig);
  await converge(ctx, action, sr, spec, new Set(UPDATABLE));
  const oc = await ctx.caller.call<Record<string, string>>('SR.get_other_config', sr);
  await syncMapKeys(ctx.caller, 'SR', sr, 'other_config', oc, await credentialDigests(ctx, spec.type, config, oc, 'all'), [PENDING_KEY]);
  await writeSpecDigest(ctx, 'SR', sr, oc, specDigestOf(action));
}

async function update(ctx: ApplyContext, action: Action, config: ResolvedConfig | undefined): Promise<void> {
  const spec = desiredSpec<SrSpec>(action);
  const sr = await findSR(ctx, action, spec);
  if (!sr) throw new ApplyError(action.address, 'the SR to update does not exist');
  const oc = await assertOwned(ctx, 'SR', sr, action.address);
  if (oc?.[PENDING_KEY] !== undefined && config) return create(ctx, { ...action, operation: 'create' }, config);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!UPDATABLE.has(f) && f !== 'deviceConfig') throw new UnsupportedChangeError(action.address, `apply does not change spec.${f} of an existing SR (it needs a replace)`);
  }
  await converge(ctx, action, sr, spec, fields);
  if (config) {
    const pbds = (await allRecords<PBDRecord>(ctx.caller, 'PBD')).filter(([, p]) => p.SR === sr);
    const rotated = fields.has('deviceConfig') ? await rotateChanged(ctx, action, sr, spec, config, pbds) : new Set<string>();
    await syncMapKeys(ctx.caller, 'SR', sr, 'other_config', oc, await credentialDigests(ctx, spec.type, config, oc, rotated, pbds));
  }
  await writeSpecDigest(ctx, 'SR', sr, oc, specDigestOf(action));
}

/**
 * The credential changes of an update: only secret-backed ones come here (the planner sends every
 * other device-config change to a replace), each set on xops' secret and on the PBDs' copies.
 * Returns the keys it set.
 */
async function rotateChanged(ctx: ApplyContext, action: Action, sr: Ref, spec: SrSpec, config: ResolvedConfig, pbds: [Ref, PBDRecord][]): Promise<Set<string>> {
  const backed = secretBackedKeys(spec.type, config);
  const rotated = new Set<string>();
  for (const change of action.changes) {
    const key = /^spec\.deviceConfig\.(.+)$/.exec(change.path)?.[1];
    if (key === undefined) continue;
    if (!backed.has(key)) throw new UnsupportedChangeError(action.address, `apply changes spec.deviceConfig.${key} of an existing SR only by re-creating its PBDs (a replace)`);
    await rotateSecret(ctx, action.address, spec.type, sr, pbds, key, config.values[key]!);
    rotated.add(key);
  }
  return rotated;
}

/**
 * Re-creates the SR's PBDs with the new device config (or sharing): PBDs that differ are unplugged
 * and destroyed, then every wanted host gets a fresh one, plugged. PBDs that already match are kept,
 * so a replace interrupted half-way resumes. Running VMs with disks on the SR make PBD.unplug fail
 * (VDI_IN_USE); the planner says so in the action's reason.
 */
async function replacePbds(ctx: ApplyContext, action: Action, config: ResolvedConfig): Promise<void> {
  const spec = desiredSpec<SrSpec>(action);
  const sr = await findSR(ctx, action, spec);
  if (!sr) throw new ApplyError(action.address, 'the SR whose PBDs are re-created does not exist');
  const oc = await assertOwned(ctx, 'SR', sr, action.address);
  const rec = await ctx.caller.call<SRRecord>('SR.get_record', sr);
  if (rec.shared !== spec.shared) await ctx.caller.callAsync('SR.set_shared', sr, spec.shared);
  const wanted = new Set(spec.shared ? (await ctx.lookup.hosts()).map(([h]) => h) : [await srHost(ctx, action, spec)]);
  const deviceConfig = await xapiDeviceConfig(ctx, action.address, spec.type, config);
  // A PBD names its own copy of each secret (XAPI made it), so a `_secret` key is compared by presence.
  const secretKeys = new Set(secretBackedKeys(spec.type, config).values());
  const same = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => (secretKeys.has(k) ? k in b : b[k] === v));
  for (const [pbd, p] of (await allRecords<PBDRecord>(ctx.caller, 'PBD')).filter(([, p]) => p.SR === sr)) {
    if (wanted.has(p.host) && same(p.device_config ?? {}, deviceConfig)) continue;
    if (p.currently_attached) await ctx.caller.callAsync('PBD.unplug', pbd);
    await ctx.caller.callAsync('PBD.destroy', pbd);
  }
  await convergePbds(ctx, action, sr, spec, deviceConfig);
  await syncMapKeys(ctx.caller, 'SR', sr, 'other_config', oc, await credentialDigests(ctx, spec.type, config, oc, 'all'));
  await writeSpecDigest(ctx, 'SR', sr, oc, specDigestOf(action));
}

/**
 * Unplugs every PBD, then destroys the SR (forgets it when its driver cannot destroy, e.g. ISO
 * libraries), then xops' secrets for it; XAPI destroys the PBDs' copies with the PBDs. Secrets left by
 * an SR that is already gone are destroyed too.
 */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  await removeSR(ctx, action);
  await destroyOwnSecrets(ctx, action.address);
}

async function removeSR(ctx: ApplyContext, action: Action): Promise<void> {
  const sr = await findSR(ctx, action, undefined);
  if (!sr) return;
  if (!(await assertOwned(ctx, 'SR', sr, action.address))) return;
  for (const [pbd, rec] of (await allRecords<PBDRecord>(ctx.caller, 'PBD')).filter(([, p]) => p.SR === sr)) {
    if (rec.currently_attached) await ctx.caller.callAsync('PBD.unplug', pbd);
  }
  try {
    await ctx.caller.callAsync('SR.destroy', sr);
  } catch (err) {
    if (isXapiError(err, 'HANDLE_INVALID')) return;
    if (!isXapiError(err, 'SR_OPERATION_NOT_SUPPORTED')) throw err;
    await ctx.caller.callAsync('SR.forget', sr);
  }
}

/**
 * Applies one SR action. Secrets in deviceConfig are resolved here and only here; any error is
 * re-raised with every resolved secret blanked out and without the XAPI cause (whose parameters
 * could echo the device config).
 */
export const applySR: Applier = async (action, ctx) => {
  const needsConfig = action.operation === 'create' || action.operation === 'replace' || action.operation === 'update';
  const spec = needsConfig && action.desired !== undefined ? desiredSpec<SrSpec>(action) : undefined;
  const config = spec ? await resolveConfig(action.address, spec.deviceConfig ?? {}, ctx.secrets) : undefined;
  try {
    switch (action.operation) {
      case 'create':
        return await create(ctx, action, config!);
      case 'update':
        return await update(ctx, action, config);
      case 'replace':
        return await replacePbds(ctx, action, config!);
      case 'delete':
        return await remove(ctx, action);
      case 'adopt':
        await adoptObject(ctx, action, 'SR');
        return await update(ctx, { ...action, operation: 'update' }, config);
      default:
        throw new UnsupportedChangeError(action.address, `an SR has no '${action.operation}' operation`);
    }
  } catch (err) {
    if (!config || isPermanent(err)) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new ApplyError(action.address, config.redact(message));
  }
};
