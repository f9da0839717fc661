import type { DesiredDisk } from '../../model/desired.js';
import { DISK_KEY, MANAGED_KEY, NULL_REF, REPO_KEY, type Ref, type VBDRecord, type VDIRecord } from '../../model/observed.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { isOwnedBy, markCreated, ownershipMarks, writeMarks } from '../../apply/ownership.js';
import { matchDisks, type DiskFacts } from './identity.js';
import { isXapiError, recordsByName, tryRecord } from '../../apply/xapi.js';

/** A disk attached to a VM: the VBD and its VDI. */
export interface AttachedDisk {
  vbd: Ref;
  vbdRec: VBDRecord;
  vdi: Ref;
  vdiRec: VDIRecord;
}

/** A disk as apply receives it: the manifest's disk, its SR possibly resolved by the planner. */
export type DiskSpec = Omit<DesiredDisk, 'sr'> & { sr?: RefLike };

/** The VDI name_label for a VM's disk: `<vm>-<disk>`. */
export function diskLabel(vmName: string, disk: string): string {
  return `${vmName}-${disk}`;
}

/** Every (non-CD) disk attached to the VM, in userdevice order. */
export async function attachedDisks(ctx: ApplyContext, vm: Ref): Promise<AttachedDisk[]> {
  const vbds = await ctx.caller.call<Ref[]>('VM.get_VBDs', vm);
  const out: AttachedDisk[] = [];
  for (const vbd of vbds) {
    const vbdRec = await tryRecord<VBDRecord>(ctx.caller, 'VBD', vbd);
    if (!vbdRec || vbdRec.type !== 'Disk' || vbdRec.empty || vbdRec.VDI === NULL_REF) continue;
    const vdiRec = await tryRecord<VDIRecord>(ctx.caller, 'VDI', vbdRec.VDI);
    if (vdiRec) out.push({ vbd, vbdRec, vdi: vbdRec.VDI, vdiRec });
  }
  return out.sort((a, b) => Number(a.vbdRec.userdevice) - Number(b.vbdRec.userdevice));
}

/** What the shared identity rule reads of an attached disk. */
function diskFacts(d: AttachedDisk): DiskFacts {
  return { userdevice: d.vbdRec.userdevice, nameLabel: d.vdiRec.name_label, otherConfig: d.vdiRec.other_config };
}

/** Resolves a disk's SR, or the pool's default SR when the manifest names none. */
export async function diskSR(ctx: ApplyContext, address: string, disk: DiskSpec): Promise<Ref> {
  if (disk.sr !== undefined) return ctx.lookup.resolve('SR', disk.sr, address);
  const [, pool] = await ctx.lookup.pool();
  if (pool.default_SR === NULL_REF) throw new ApplyError(address, `disk ${disk.name} names no SR and the pool has no default SR`);
  return pool.default_SR;
}

/** The lowest userdevice number no VBD of the VM uses (a new disk or config drive takes it). */
export async function freeUserdevice(ctx: ApplyContext, vm: Ref): Promise<string> {
  const used = new Set<string>();
  for (const vbd of await ctx.caller.call<Ref[]>('VM.get_VBDs', vm)) {
    const rec = await tryRecord<VBDRecord>(ctx.caller, 'VBD', vbd);
    if (rec) used.add(rec.userdevice);
  }
  let n = 0;
  while (used.has(String(n))) n++;
  return String(n);
}

async function attach(ctx: ApplyContext, address: string, vm: Ref, vdi: Ref, bootable: boolean): Promise<void> {
  const userdevice = await freeUserdevice(ctx, vm);
  const vbd = await ctx.caller.callAsync<Ref>('VBD.create', {
    VM: vm,
    VDI: vdi,
    userdevice,
    bootable,
    mode: 'RW',
    type: 'Disk',
    unpluggable: true,
    empty: false,
    other_config: ownershipMarks(ctx, address),
    qos_algorithm_type: '',
    qos_algorithm_params: {},
  });
  // A repeated VBD.create attaches the disk twice: keep the VBD we got back.
  for (const other of await ctx.caller.call<Ref[]>('VDI.get_VBDs', vdi)) {
    if (other !== vbd && (await tryRecord<VBDRecord>(ctx.caller, 'VBD', other))?.VM === vm) await ctx.caller.callAsync('VBD.destroy', other);
  }
  if ((await ctx.caller.call<string>('VM.get_power_state', vm)) === 'Running') {
    await ctx.caller.callAsync('VBD.plug', vbd);
  }
}

/** A disk the planner matched without `xops.disk` mark (`details.disks.claim`): VDI uuid and disk name. */
export interface DiskClaim {
  name: string;
  vdi: string;
}

export interface DiskOptions {
  /** The VM is being created: its unmarked disks are ours, marked in one call and renamed `<vm>-<disk>`. */
  claimUnmarked: boolean;
  /** Disks the planner matched to declared ones (by name or by position): marked as those disks. */
  claims?: readonly DiskClaim[];
  /** Detach and destroy marked disks the manifest no longer declares (a destructive change). */
  removeUndeclared: boolean;
}

/**
 * Makes the VM's disks match the manifest: every declared disk exists (found by the planner's rule,
 * identity.ts, and marked if it was matched without its mark; else found detached by name after a
 * crash; else created marked in the same VDI.create call), grown to the declared size; optionally
 * marked disks no longer declared go.
 */
export async function convergeDisks(
  ctx: ApplyContext,
  address: string,
  vmName: string,
  vm: Ref,
  disks: readonly DiskSpec[],
  options: DiskOptions,
): Promise<void> {
  const attached = await attachedDisks(ctx, vm);
  // The planner's rule (identity.ts): what it sees as declared disk N is what apply converges.
  const matched = new Map(matchDisks(vmName, attached, diskFacts, disks).byName);
  // A saved plan's claims (made from the pool as it was then) win over label and position.
  for (const c of options.claims ?? []) {
    if (matched.get(c.name)?.match === 'mark') continue;
    const d = attached.find((a) => a.vdiRec.uuid === c.vdi && a.vdiRec.other_config?.[DISK_KEY] === undefined);
    if (!d) continue;
    for (const [name, m] of matched) if (m.disk === d) matched.delete(name);
    matched.set(c.name, { disk: d, match: 'label' });
  }
  const byName = new Map<string, AttachedDisk>();
  for (const [name, { disk: d, match }] of matched) {
    const oc = d.vdiRec.other_config ?? {};
    if (match === 'mark') {
      if (oc[MANAGED_KEY] !== undefined && !isOwnedBy(oc, address, ctx.repo)) {
        throw new ApplyError(address, `VDI ${d.vdiRec.uuid} carries disk '${name}' but is marked ${oc[MANAGED_KEY]}${oc[REPO_KEY] ? ` by ${oc[REPO_KEY]}` : ''}`);
      }
      // Marks written in part by an interrupted run: complete them.
      if (!isOwnedBy(oc, address, ctx.repo)) await writeMarks(ctx, 'VDI', d.vdi, address, oc, { [DISK_KEY]: name });
    } else if (disks.some((want) => want.name === name)) {
      if (oc[MANAGED_KEY] !== undefined && !isOwnedBy(oc, address, ctx.repo)) continue;
      // A disk of the VM being created (VM.provision's, the template's) is ours: marked in one call.
      if (options.claimUnmarked) await markCreated(ctx, 'VDI', d.vdi, address, { [DISK_KEY]: name });
      else await writeMarks(ctx, 'VDI', d.vdi, address, oc, { [DISK_KEY]: name });
    } else {
      continue; // matched by label only, not declared: not ours to touch
    }
    if (options.claimUnmarked && d.vdiRec.name_label !== diskLabel(vmName, name)) await ctx.caller.callAsync('VDI.set_name_label', d.vdi, diskLabel(vmName, name));
    byName.set(name, d);
  }
  const running = (await ctx.caller.call<string>('VM.get_power_state', vm)) === 'Running';
  for (const [i, disk] of disks.entries()) {
    const have = byName.get(disk.name);
    if (have) {
      // A running VM's disk grows online; the planner halts the VM first when its SR cannot do that.
      if (Number(have.vdiRec.virtual_size) < disk.size) {
        await ctx.caller.callAsync(running ? 'VDI.resize_online' : 'VDI.resize', have.vdi, disk.size);
      }
      continue;
    }
    const label = diskLabel(vmName, disk.name);
    // After a crash between VDI.create and VBD.create the VDI exists, marked, but detached.
    const detached = (await recordsByName<VDIRecord>(ctx.caller, 'VDI', label)).find(
      ([, rec]) => isOwnedBy(rec.other_config, address, ctx.repo) && rec.other_config[DISK_KEY] === disk.name && rec.VBDs.length === 0,
    );
    let vdi: Ref;
    if (detached) {
      vdi = detached[0];
      if (Number(detached[1].virtual_size) < disk.size) await ctx.caller.callAsync('VDI.resize', vdi, disk.size);
    } else {
      vdi = await ctx.caller.callAsync<Ref>('VDI.create', {
        name_label: label,
        name_description: `${address} disk ${disk.name}`,
        SR: await diskSR(ctx, address, disk),
        virtual_size: disk.size,
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: { ...ownershipMarks(ctx, address), [DISK_KEY]: disk.name },
        sm_config: {},
        xenstore_data: {},
        tags: [],
      });
      // A repeated VDI.create (reply lost, call resent) leaves a detached twin: drop it.
      for (const [ref, rec] of await recordsByName<VDIRecord>(ctx.caller, 'VDI', label)) {
        if (ref !== vdi && rec.VBDs.length === 0 && isOwnedBy(rec.other_config, address, ctx.repo) && rec.other_config[DISK_KEY] === disk.name) {
          await ctx.caller.callAsync('VDI.destroy', ref);
        }
      }
    }
    await attach(ctx, address, vm, vdi, i === 0 && !attached.some((d) => d.vbdRec.bootable));
  }
  if (options.removeUndeclared) {
    const declared = new Set(disks.map((d) => d.name));
    for (const [name, d] of byName) {
      if (!declared.has(name)) await destroyDisk(ctx, d);
    }
  }
}

/** Detaches and destroys one disk; a part already gone counts as done. */
export async function destroyDisk(ctx: ApplyContext, d: { vbd?: Ref; vdi: Ref }): Promise<void> {
  if (d.vbd) {
    try {
      if (await ctx.caller.call<boolean>('VBD.get_currently_attached', d.vbd)) await ctx.caller.callAsync('VBD.unplug', d.vbd);
      await ctx.caller.callAsync('VBD.destroy', d.vbd);
    } catch (err) {
      if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
    }
  }
  try {
    await ctx.caller.callAsync('VDI.destroy', d.vdi);
  } catch (err) {
    if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
  }
}

/**
 * Marks the disks the planner matched to declared ones on a VM being adopted (`details.disks.claim`
 * of the adopt action), so that later plans find them by mark. A disk already carrying this mark is
 * done; one marked as something else, or no longer attached to the VM, is an error.
 */
export async function claimDisks(ctx: ApplyContext, address: string, vm: Ref, claims: readonly DiskClaim[]): Promise<void> {
  if (claims.length === 0) return;
  const attached = await attachedDisks(ctx, vm);
  for (const c of claims) {
    const d = attached.find((a) => a.vdiRec.uuid === c.vdi);
    if (!d) throw new ApplyError(address, `disk '${c.name}' (VDI ${c.vdi}) is no longer attached to the VM`);
    const oc = d.vdiRec.other_config ?? {};
    if (oc[MANAGED_KEY] !== undefined) {
      if (isOwnedBy(oc, address, ctx.repo) && oc[DISK_KEY] === c.name) continue;
      throw new ApplyError(address, `VDI ${c.vdi} is already marked ${oc[MANAGED_KEY]}${oc[DISK_KEY] ? ` (disk '${oc[DISK_KEY]}')` : ''}: not claimed as disk '${c.name}'`);
    }
    await writeMarks(ctx, 'VDI', d.vdi, address, oc, { [DISK_KEY]: c.name });
  }
}
