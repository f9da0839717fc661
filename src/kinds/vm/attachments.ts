/**
 * A VM's standalone disks: the `{disk: NAME}` entries of its `disks`, each a Disk manifest's VDI
 * attached through a VBD xops marks with the VM's address and `xops.attach`. The VM never owns
 * such a VDI: destroying or replacing the VM leaves it, and its removal from the list only detaches
 * it. Everything VM-side about them lives here; vm/schema, plan, apply and export call in.
 */
import type { Reference } from '../../model/manifest.js';
import { ATTACH_KEY, STANDALONE_KEY, type Ref, type VBDRecord, type VDIRecord, type VMRecord } from '../../model/observed.js';
import type { FieldChange, ObjectRef } from '../../model/plan.js';
import type { BuildContext } from '../../manifests/build-context.js';
import type { DesiredAttachment, DesiredVM } from '../../model/desired.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { objectRef } from '../../plan/changes.js';
import { markOf } from '../../plan/ownership-marks.js';
import { resolveRef, type ResolvedReference } from '../../plan/refs.js';
import type { ApplyContext } from '../../apply/context.js';
import type { RefLike } from '../../apply/lookup.js';
import { isOwnedBy, ownershipMarks } from '../../apply/ownership.js';
import { isXapiError, tryRecord } from '../../apply/xapi.js';
import type { ExportContext } from '../../export/context.js';

/** A `spec.disks` entry as the schema lets it through. */
export type DiskEntry = { name: string; size: number | string; sr?: string } | { disk: string };

/** Whether a `spec.disks` entry attaches a standalone disk rather than declaring one of the VM's own. */
export function isAttachmentEntry(entry: DiskEntry): entry is { disk: string } {
  return 'disk' in entry;
}

/** The `{disk: NAME}` entries of `spec.disks`, each Disk at most once. */
export function decodeAttachments(entries: readonly DiskEntry[], ctx: BuildContext): DesiredAttachment[] {
  const out: DesiredAttachment[] = [];
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (!isAttachmentEntry(entry)) return;
    const path = `spec.disks[${index}].disk`;
    const first = seen.get(entry.disk);
    if (first !== undefined) ctx.error(path, `disk '${entry.disk}' is already attached by spec.disks[${first}]`, 'duplicate-name');
    else seen.set(entry.disk, index);
    out.push({ disk: ctx.ref('Disk', entry.disk, path) });
  });
  return out;
}

/** Whether a VDI is a standalone disk's (a Disk manifest's), which no VM counts among its own disks. */
export function isStandaloneVdi(vdi: VDIRecord): boolean {
  return vdi.other_config?.[STANDALONE_KEY] === 'true' || (vdi.other_config?.['xops.managed'] ?? '').startsWith('Disk/');
}

/** Resolves the VM's attachments; each one that names a Disk created in this plan adds it to `needs`. */
export function resolveAttachments(ctx: PlanContext, vm: DesiredVM, needs: string[]): ResolvedReference[] {
  const out: ResolvedReference[] = [];
  for (const a of vm.spec.attachments ?? []) {
    const disk = resolveRef(ctx, vm, 'spec.disks', a.disk, { cls: 'VDI', kind: 'Disk' }, needs);
    if (disk) out.push(disk);
  }
  return out;
}

/**
 * The changes that bring the VM's attached Disks to the manifest: a Disk not attached yet is
 * attached (hot-plugged on a running VM), one the VM attached but no longer lists is detached (its
 * data stays on the Disk). Both are `none`: neither touches the VM's workload or any data.
 */
export function planAttachments(ctx: PlanContext, address: string, vm: VMRecord, declared: readonly ResolvedReference[], changes: FieldChange[], objects: ObjectRef[]): void {
  const halted = vm.power_state === 'Halted';
  const attached = new Map<string, { vbd: Ref; vbdRec: VBDRecord; vdi: VDIRecord }>();
  for (const vbdRef of vm.VBDs) {
    const vbdRec = read(ctx, 'VBD', vbdRef);
    const vdi = vbdRec && vbdRec.type === 'Disk' && !vbdRec.empty ? read(ctx, 'VDI', vbdRec.VDI) : undefined;
    if (vbdRec && vdi && isStandaloneVdi(vdi)) attached.set(vdi.uuid, { vbd: vbdRef, vbdRec, vdi });
  }
  const wanted = new Set<string>();
  for (const disk of declared) {
    const have = disk.uuid ? attached.get(disk.uuid) : undefined;
    if (disk.uuid) wanted.add(disk.uuid);
    if (have) {
      objects.push(objectRef('VBD', have.vbd, have.vbdRec.uuid));
      continue;
    }
    changes.push({
      path: `spec.attachments[Disk/${disk.name}]`, from: undefined, to: disk.name, disruption: 'none',
      reason: halted ? 'the disk is attached while the VM is halted' : 'the disk is hot-plugged',
    });
  }
  for (const [uuid, have] of attached) {
    if (wanted.has(uuid) || have.vbdRec.other_config?.[ATTACH_KEY] === undefined || markOf(have.vbdRec).address !== address) continue;
    objects.push(objectRef('VBD', have.vbd, have.vbdRec.uuid));
    changes.push({
      path: `spec.attachments[${have.vbdRec.other_config[ATTACH_KEY]}]`, from: have.vdi.name_label, to: undefined, disruption: 'none',
      reason: 'the disk is unplugged and detached; it keeps its data',
    });
  }
}

/**
 * Attaches every declared Disk the VM lacks (plugged when the VM runs) and detaches the Disks it
 * attached before but no longer declares. Reads before it writes: a repeat makes no calls.
 */
export async function convergeAttachments(ctx: ApplyContext, address: string, vm: Ref, declared: readonly { disk: RefLike & { name?: string } }[]): Promise<void> {
  const vbds: [Ref, VBDRecord][] = [];
  for (const ref of await ctx.caller.call<Ref[]>('VM.get_VBDs', vm)) {
    const rec = await tryRecord<VBDRecord>(ctx.caller, 'VBD', ref);
    if (rec && rec.type === 'Disk' && !rec.empty) vbds.push([ref, rec]);
  }
  const running = (await ctx.caller.call<string>('VM.get_power_state', vm)) === 'Running';
  const wanted = new Set<Ref>();
  for (const a of declared) {
    const vdi = await ctx.lookup.resolve('Disk', a.disk, address);
    wanted.add(vdi);
    let vbd = vbds.find(([, r]) => r.VDI === vdi)?.[0];
    if (!vbd) {
      vbd = await ctx.caller.callAsync<Ref>('VBD.create', {
        VM: vm, VDI: vdi, userdevice: 'autodetect', bootable: false, mode: 'RW', type: 'Disk', unpluggable: true, empty: false,
        other_config: { ...ownershipMarks(ctx, address), [ATTACH_KEY]: `Disk/${a.disk.name ?? vdi}` },
        qos_algorithm_type: '', qos_algorithm_params: {},
      });
      // A repeated VBD.create (reply lost, call resent) attaches the disk twice: keep the VBD we got back.
      for (const other of await ctx.caller.call<Ref[]>('VDI.get_VBDs', vdi)) {
        if (other !== vbd && (await tryRecord<VBDRecord>(ctx.caller, 'VBD', other))?.VM === vm) await ctx.caller.callAsync('VBD.destroy', other);
      }
    }
    if (running && !(await ctx.caller.call<boolean>('VBD.get_currently_attached', vbd))) await ctx.caller.callAsync('VBD.plug', vbd);
  }
  for (const [ref, rec] of vbds) {
    if (wanted.has(rec.VDI) || rec.other_config?.[ATTACH_KEY] === undefined || !isOwnedBy(rec.other_config, address, ctx.repo)) continue;
    try {
      if (await ctx.caller.call<boolean>('VBD.get_currently_attached', ref)) await ctx.caller.callAsync('VBD.unplug', ref);
      await ctx.caller.callAsync('VBD.destroy', ref);
    } catch (err) {
      if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
    }
  }
}

/** Whether export writes the VDI as a Disk manifest of its own (the VM then refers to it by name). */
export function isExportedDisk(ctx: ExportContext, vdi: Ref): boolean {
  return ctx.chosen.get(vdi)?.kind === 'Disk';
}

/** The `{disk: NAME}` entries of an exported VM: its VBDs to VDIs exported as Disk manifests, in device order. */
export function exportedAttachments(ctx: ExportContext, vm: VMRecord): { disk: string }[] {
  return vm.VBDs
    .map((ref) => ctx.index.get('VBD', ref))
    .filter((v): v is VBDRecord => v !== undefined && v.type === 'Disk' && !v.empty && isExportedDisk(ctx, v.VDI))
    .sort((a, b) => Number(a.userdevice) - Number(b.userdevice))
    .map((v) => ({ disk: ctx.chosen.get(v.VDI)!.name }));
}
