import type { Ref, VBDRecord, VDIRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { adoptObject } from '../../apply/adopt.js';
import { changedFields, desiredSpec, specDigestOf, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, UnsupportedChangeError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { assertOwned, ownershipMarks, writeSpecDigest } from '../../apply/ownership.js';
import { isXapiError, syncField, syncMapKeys, syncSet, tryRecord } from '../../apply/xapi.js';
import type { ResolvedDiskSpec } from './plan.js';
import { CONTENT_KEY, CONTENT_PENDING, SOURCE_KEY, STANDALONE_KEY, contentComplete } from './marks.js';
import { checkImage, imageFile, uploadImage, type ImageUpload } from './upload.js';

/** A Disk's spec as apply receives it: the SR possibly resolved by the planner. */
export type DiskApplySpec = Omit<ResolvedDiskSpec, 'sr'> & { sr: RefLike };

const UPDATABLE = new Set(['nameLabel', 'description', 'tags', 'size', 'source']);

function uploadOf(action: Action): ImageUpload | undefined {
  const u = action.details?.['upload'] as ImageUpload | undefined;
  const formatOk = u?.format === 'raw' || u?.format === 'vhd' || (u?.format === 'vmdk' && typeof u.member === 'string');
  return u && typeof u.file === 'string' && typeof u.root === 'string' && formatOk && (u.member === undefined || typeof u.member === 'string') ? u : undefined;
}

/** The disk's VDI: the plan's object if it still exists, else the one carrying the Disk's mark. */
async function findDisk(ctx: ApplyContext, action: Action): Promise<Ref | undefined> {
  const planned = action.objects.find((o) => o.cls === 'VDI');
  if (planned && (await tryRecord(ctx.caller, 'VDI', planned.ref))) return planned.ref;
  const marked = await ctx.lookup.managed<VDIRecord>('VDI', action.address);
  if (marked.length > 1) throw new ApplyError(action.address, `${marked.length} VDIs carry the mark ${action.address}; remove it from all but one`);
  return marked[0]?.[0];
}

/**
 * Creates the VDI with every mark in the one VDI.create call (ownership, standalone, and the content
 * `pending` while an image is to come), so a crash at any point leaves a VDI the next run finds.
 */
async function createVdi(ctx: ApplyContext, action: Action, spec: DiskApplySpec, upload: ImageUpload | undefined): Promise<Ref> {
  const vdi = await ctx.caller.callAsync<Ref>('VDI.create', {
    name_label: spec.nameLabel,
    name_description: spec.description ?? '',
    SR: await ctx.lookup.resolve('SR', spec.sr, action.address),
    virtual_size: spec.size,
    type: 'user',
    sharable: false,
    read_only: false,
    other_config: {
      ...ownershipMarks(ctx, action.address),
      [STANDALONE_KEY]: 'true',
      ...(upload ? { [CONTENT_KEY]: CONTENT_PENDING, [SOURCE_KEY]: upload.file } : {}),
    },
    sm_config: {},
    xenstore_data: {},
    tags: spec.tags ?? [],
  });
  // A repeated VDI.create (reply lost, call resent) leaves a second, detached and empty twin: drop it.
  for (const [ref, rec] of await ctx.lookup.managed<VDIRecord>('VDI', action.address)) {
    if (ref !== vdi && rec.VBDs.length === 0) await ctx.caller.callAsync('VDI.destroy', ref);
  }
  return vdi;
}

/** Uploads the image when the VDI's content mark says it is not there yet, then marks it done. */
async function ensureContent(ctx: ApplyContext, action: Action, vdi: Ref, upload: ImageUpload | undefined): Promise<void> {
  if (!upload) return;
  const rec = await ctx.caller.call<VDIRecord>('VDI.get_record', vdi);
  if (contentComplete(rec.other_config)) return;
  const digest = await uploadImage(ctx, action.address, vdi, upload, Number(rec.virtual_size));
  const oc = await ctx.caller.call<Record<string, string>>('VDI.get_other_config', vdi);
  await syncMapKeys(ctx.caller, 'VDI', vdi, 'other_config', oc, { [CONTENT_KEY]: digest, [SOURCE_KEY]: upload.file });
}

/** A VDI attached to a running VM grows online; a detached one offline. */
async function grow(ctx: ApplyContext, vdi: Ref, size: number): Promise<void> {
  const rec = await ctx.caller.call<VDIRecord>('VDI.get_record', vdi);
  if (Number(rec.virtual_size) >= size) return;
  let attached = false;
  for (const vbd of rec.VBDs) attached ||= (await tryRecord<VBDRecord>(ctx.caller, 'VBD', vbd))?.currently_attached === true;
  await ctx.caller.callAsync(attached ? 'VDI.resize_online' : 'VDI.resize', vdi, size);
}

async function converge(ctx: ApplyContext, vdi: Ref, spec: DiskApplySpec, fields: Set<string>): Promise<void> {
  if (fields.has('size')) await grow(ctx, vdi, spec.size);
  const rec = await ctx.caller.call<VDIRecord>('VDI.get_record', vdi);
  if (fields.has('nameLabel')) await syncField(ctx.caller, 'VDI', vdi, 'name_label', rec.name_label, spec.nameLabel);
  if (fields.has('description')) await syncField(ctx.caller, 'VDI', vdi, 'name_description', rec.name_description, spec.description ?? '');
  if (fields.has('tags')) await syncSet(ctx.caller, 'VDI', vdi, 'tags', rec.tags, spec.tags ?? []);
}

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<DiskApplySpec>(action);
  const upload = uploadOf(action);
  let vdi = await findDisk(ctx, action);
  if (!vdi) {
    // A missing image, one outside the folder, or a package that fails its digests fails before
    // anything exists in the pool.
    if (upload) await checkImage(action.address, upload);
    vdi = await createVdi(ctx, action, spec, upload);
  }
  await ensureContent(ctx, action, vdi, upload);
  await converge(ctx, vdi, spec, new Set(UPDATABLE));
  await writeSpecDigest(ctx, 'VDI', vdi, await ctx.caller.call('VDI.get_other_config', vdi), specDigestOf(action));
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<DiskApplySpec>(action);
  const vdi = await findDisk(ctx, action);
  if (!vdi) throw new ApplyError(action.address, 'the disk to update does not exist (deleted since the plan was made?)');
  const oc = await assertOwned(ctx, 'VDI', vdi, action.address);
  const fields = changedFields(action);
  for (const f of fields) {
    if (!UPDATABLE.has(f)) throw new UnsupportedChangeError(action.address, `apply does not change spec.${f} of an existing disk`);
  }
  if (fields.has('source')) await ensureContent(ctx, action, vdi, uploadOf(action));
  await converge(ctx, vdi, spec, fields);
  await writeSpecDigest(ctx, 'VDI', vdi, oc, specDigestOf(action));
}

/** Detaches the disk from every VM (unplugging it where plugged), then destroys it. */
async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  const vdi = await findDisk(ctx, action);
  if (!vdi) return;
  if (!(await assertOwned(ctx, 'VDI', vdi, action.address))) return;
  for (const vbd of await ctx.caller.call<Ref[]>('VDI.get_VBDs', vdi)) {
    try {
      if (await ctx.caller.call<boolean>('VBD.get_currently_attached', vbd)) await ctx.caller.callAsync('VBD.unplug', vbd);
      await ctx.caller.callAsync('VBD.destroy', vbd);
    } catch (err) {
      if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
    }
  }
  try {
    await ctx.caller.callAsync('VDI.destroy', vdi);
  } catch (err) {
    if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
  }
}

async function adopt(ctx: ApplyContext, action: Action): Promise<void> {
  const vdi = await adoptObject(ctx, action, 'VDI');
  const oc = await ctx.caller.call<Record<string, string>>('VDI.get_other_config', vdi);
  await syncMapKeys(ctx.caller, 'VDI', vdi, 'other_config', oc, { [STANDALONE_KEY]: 'true' });
  await writeSpecDigest(ctx, 'VDI', vdi, { ...oc, [STANDALONE_KEY]: 'true' }, specDigestOf(action));
}

/** Applies one Disk action: create (crash-safe, uploading its image), update, delete, adopt. */
export const applyDisk: Applier = async (action, ctx) => {
  switch (action.operation) {
    case 'create':
      return create(ctx, action);
    case 'update':
      return update(ctx, action);
    case 'delete':
      return remove(ctx, action);
    case 'adopt':
      return adopt(ctx, action);
    default:
      throw new UnsupportedChangeError(action.address, `a disk has no '${action.operation}' operation`);
  }
};
