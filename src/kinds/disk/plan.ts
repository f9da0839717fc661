import type { DesiredStandaloneDisk } from '../../model/desired.js';
import type { Ref, VDIRecord } from '../../model/observed.js';
import type { Action, FieldChange } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { addDiagnostic, read } from '../../plan/context.js';
import { compareField, compareTags, createChanges, makeAction, objectRef, updateReason } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import { markOf } from '../../plan/ownership-marks.js';
import { anyUndeclaredMark, orphanName, pruneAllowed, wouldPrune } from '../../plan/prune.js';
import { resolveRef, type ResolvedReference } from '../../plan/refs.js';
import { formatBytes } from '../../plan/values.js';
import { CONTENT_KEY, SOURCE_KEY, contentComplete } from './marks.js';

/** A Disk's spec with its SR resolved: the `desired` of Disk actions. */
export interface ResolvedDiskSpec extends Omit<DesiredStandaloneDisk['spec'], 'sr'> {
  sr: ResolvedReference;
}

/**
 * `details` of a Disk create or update. `upload`: the image to write (a create's, or an earlier
 * upload that did not finish); `root` is the manifests folder the file is relative to. `resize`:
 * the new virtual size.
 */
export interface DiskActionDetails {
  vdi?: string;
  upload?: { file: string; format: 'raw' | 'vhd' | 'vmdk'; root: string; member?: string };
  resize?: number;
}

/** `1.2 GiB` (one decimal, binary units), or `an image` when the size is unknown (not loaded from a folder). */
export function uploadSize(bytes: number | undefined): string {
  if (bytes === undefined) return 'an image';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (i < units.length - 1 && v >= 1024) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** A standalone disk's VDI: a user VDI that is neither a snapshot nor on an ISO library. */
export function isDiskCandidate(rec: VDIRecord): boolean {
  return !rec.is_a_snapshot && rec.type === 'user';
}

function srName(ctx: PlanContext, sr: ResolvedReference): string {
  return sr.uuid ? (ctx.index.byUuid('SR', sr.uuid)?.[1].name_label ?? sr.name) : sr.name;
}

/** Uuids of the VMs the disk's VDI is attached to. */
function vmsUsing(ctx: PlanContext, vdi: VDIRecord): string[] {
  const out: string[] = [];
  for (const vbdRef of vdi.VBDs) {
    const vm = ctx.index.get('VM', read(ctx, 'VBD', vbdRef)?.VM ?? '');
    if (vm) out.push(vm.uuid);
  }
  return out;
}

/**
 * Plans one Disk manifest: a create (with its image upload); for an existing disk, metadata and a
 * grow are changed live. A shrink (loses data) and a move to another SR are refused. The image is
 * written only into a new disk: a re-plan after an interrupted upload uploads again into the same VDI.
 */
export function planDisk(ctx: PlanContext, disk: DesiredStandaloneDisk): void {
  const address = `Disk/${disk.meta.name}`;
  const owner = ctx.owners.get(address);
  if (!owner || owner.state === 'conflict') return;
  const needs: string[] = [];
  const sr = resolveRef(ctx, disk, 'spec.sr', disk.spec.sr, { cls: 'SR', kind: 'SR' }, needs);
  if (!sr || ctx.failed.has(address)) return;
  const desired: ResolvedDiskSpec = { ...disk.spec, sr };
  const source = disk.spec.source;
  const upload = source ? { file: source.file, format: source.format, root: ctx.desired.source.path, ...(source.member ? { member: source.member } : {}) } : undefined;
  const size = formatBytes(disk.spec.size);
  if (source?.format === 'raw' && source.bytes !== undefined && source.bytes > disk.spec.size) {
    addDiagnostic(ctx, disk, 'error', 'image-too-large', `the raw image ${source.file} holds ${source.bytes} bytes, more than the disk's ${disk.spec.size}`, 'spec.size');
    return;
  }
  if (owner.state === 'absent') {
    ctx.actions.push(makeAction({
      operation: 'create', resource: disk, changes: createChanges(disk.spec), desired, needs,
      reason: `${size} on ${srName(ctx, sr)}${source ? `, ${uploadSize(source.bytes)} to upload from ${source.file}` : ''}`,
      ...(upload ? { details: { upload } satisfies DiskActionDetails } : {}),
    }));
    return;
  }
  const ref = owner.ref as Ref;
  const rec = owner.record as VDIRecord;
  const self = objectRef('VDI', ref, rec.uuid);
  const drift = owner.mark.spec === specDigest(disk);
  if (owner.state === 'adopt') {
    ctx.actions.push(makeAction({
      operation: 'adopt', resource: disk, objects: [self], desired, needs,
      reason: `takes ownership of the existing VDI '${rec.name_label}' (writes xops' mark; its data is kept as it is)`,
      details: { vdi: rec.uuid } satisfies DiskActionDetails,
    }));
  }
  const refuse = (path: string, from: unknown, to: unknown, reason: string) => ctx.refused.push({ address, path, from, to, reason });
  const currentSR = ctx.index.get('SR', rec.SR);
  if (sr.uuid && currentSR && currentSR.uuid !== sr.uuid) {
    refuse('spec.sr', currentSR.name_label, disk.spec.sr.name,
      'moving a disk to another SR is not planned: migrate the VDI yourself (VDI.pool_migrate), then update the manifest');
  }
  const changes: FieldChange[] = [];
  const details: DiskActionDetails = { vdi: rec.uuid };
  const current = Number(rec.virtual_size);
  if (disk.spec.size < current) {
    refuse('spec.size', current, disk.spec.size, `shrinking a disk would lose data (${formatBytes(current)} → ${size})`);
  } else if (disk.spec.size > current) {
    const attached = vmsUsing(ctx, rec).length > 0;
    compareField(changes, 'spec.size', current, disk.spec.size, 'none',
      attached ? 'the disk grows while attached (VDI.resize_online); the guest sees the new size after a rescan' : 'the disk grows (VDI.resize)');
    details.resize = disk.spec.size;
  }
  compareField(changes, 'spec.nameLabel', rec.name_label, disk.spec.nameLabel);
  if (disk.spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, disk.spec.description);
  compareTags(ctx, disk, changes, rec.tags, disk.spec.tags);
  const oc = rec.other_config ?? {};
  if (source && owner.state === 'managed' && !contentComplete(oc)) {
    // Only a disk xops created carries the pending mark: its upload was interrupted, so it starts again.
    changes.push({ path: 'spec.source', from: oc[CONTENT_KEY], to: source.file, disruption: 'none',
      reason: `an earlier upload of ${source.file} did not finish: it is uploaded again into the same VDI` });
    details.upload = upload;
  } else if (source && oc[SOURCE_KEY] !== undefined && oc[SOURCE_KEY] !== source.file) {
    addDiagnostic(ctx, disk, 'warning', 'source-changed',
      `the disk's data came from ${oc[SOURCE_KEY]}; an image is written only into a new disk, so ${source.file} is not uploaded (xops never overwrites a disk's data)`,
      'spec.source.file');
  }
  if (changes.length === 0) return;
  ctx.actions.push(makeAction({
    operation: 'update', resource: disk, changes, objects: [self], desired, drift, needs,
    reason: updateReason(changes, 'disk settings are changed live'),
    details: details as Record<string, unknown>,
  }));
}

/** Managed Disks with no manifest: deleted (their data lost) only when prune is on. */
export function pruneDisks(ctx: PlanContext): void {
  if (!anyUndeclaredMark(ctx, 'Disk', 'VDI')) return;
  for (const [ref, rec] of ctx.observed.records.VDI) {
    const mark = markOf(rec);
    const name = orphanName(ctx, 'Disk', mark);
    if (name === undefined) continue;
    read(ctx, 'VDI', ref);
    const what = `disk '${rec.name_label}' (${formatBytes(Number(rec.virtual_size))}, VDI ${rec.uuid})`;
    if (!pruneAllowed(ctx, 'Disk', name)) {
      wouldPrune(ctx, mark.address!, what);
      continue;
    }
    const users = vmsUsing(ctx, rec);
    ctx.actions.push(makeAction({
      operation: 'delete', resource: { kind: 'Disk', meta: { name } }, disruption: 'destructive',
      reason: `the disk is no longer declared: destroying it loses its ${formatBytes(Number(rec.virtual_size))} of data${users.length ? ` (it is detached from ${users.length} VM(s) first)` : ''}`,
      objects: [objectRef('VDI', ref, rec.uuid)],
      details: { vdi: rec.uuid, vms: users },
    }));
  }
}

/** For a Disk delete: the VMs it is still attached to; the delete waits for their actions. */
export function vmsOnDisk(ctx: PlanContext, action: Action): Set<string> {
  const main = action.objects[0];
  const rec = main?.cls === 'VDI' ? ctx.index.get('VDI', main.ref) : undefined;
  return new Set(rec ? vmsUsing(ctx, rec) : []);
}
