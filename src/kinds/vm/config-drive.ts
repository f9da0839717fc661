/**
 * Apply's side of cloudInit: the NoCloud config drive of a VM being created, and its removal after the
 * first boot. Crash-safe by marks: the VDI is created with xops' marks and `xops.cloudinit: pending` in
 * the one VDI.create call; the mark becomes the config's digest only once the image is uploaded; the
 * VBD carries the marks too. A re-run finds the drive by those marks (attached, or detached under its
 * name) and does only what is missing; the VM records the digest last.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DISK_KEY, NULL_REF, type Ref, type VBDRecord, type VDIRecord, type VMRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, UnsupportedChangeError } from '../../apply/errors.js';
import { assertOwned, isOwnedBy, ownershipMarks } from '../../apply/ownership.js';
import { recordsByName, syncMapKeys, tryRecord } from '../../apply/xapi.js';
import { buildConfigDrive } from '../../disk-content/index.js';
import { VdiTransfer } from '../../xapi/vdi-transfer.js';
import type { DesiredCloudInit } from './desired.js';
import { CLOUDINIT_KEY, CLOUDINIT_PENDING, cloudInitDigest, driveFiles, driveLabel, unreadFiles } from './cloud-init.js';
import { destroyDisk, freeUserdevice } from './disks.js';
import { whileHalted } from './power.js';

/** The VM's drive for `address`: attached to it, else (after a crash before the attach) detached under its name. */
async function findDrive(ctx: ApplyContext, address: string, vm: Ref, label: string): Promise<{ vdi: Ref; rec: VDIRecord; vbd?: Ref } | undefined> {
  for (const vbd of await ctx.caller.call<Ref[]>('VM.get_VBDs', vm)) {
    const vbdRec = await tryRecord<VBDRecord>(ctx.caller, 'VBD', vbd);
    if (!vbdRec || vbdRec.type !== 'Disk' || vbdRec.empty || vbdRec.VDI === NULL_REF) continue;
    const rec = await tryRecord<VDIRecord>(ctx.caller, 'VDI', vbdRec.VDI);
    if (rec && rec.other_config[CLOUDINIT_KEY] !== undefined && isOwnedBy(rec.other_config, address, ctx.repo)) return { vdi: vbdRec.VDI, rec, vbd };
  }
  // Detached, the drive is known by its name and mark even without its key: the key goes from
  // pending to the digest by a remove then an add, and an apply killed between the two leaves none.
  const detached = (await recordsByName<VDIRecord>(ctx.caller, 'VDI', label))
    .find(([, r]) => r.VBDs.length === 0 && (r.other_config[CLOUDINIT_KEY] !== undefined || r.other_config[DISK_KEY] === undefined) && isOwnedBy(r.other_config, address, ctx.repo));
  return detached ? { vdi: detached[0], rec: detached[1] } : undefined;
}

/** The SR for the drive: the VM's first disk's, else the pool's default SR. */
async function driveSR(ctx: ApplyContext, address: string, vm: Ref): Promise<Ref> {
  for (const vbd of await ctx.caller.call<Ref[]>('VM.get_VBDs', vm)) {
    const rec = await tryRecord<VBDRecord>(ctx.caller, 'VBD', vbd);
    if (rec?.type === 'Disk' && !rec.empty && rec.VDI !== NULL_REF && rec.userdevice === '0') {
      const sr = (await tryRecord<VDIRecord>(ctx.caller, 'VDI', rec.VDI))?.SR;
      if (sr) return sr;
    }
  }
  const [, pool] = await ctx.lookup.pool();
  if (pool.default_SR === NULL_REF) throw new ApplyError(address, 'the cloud-init config drive needs an SR: the VM has no disk and the pool has no default SR');
  return pool.default_SR;
}

/**
 * Makes sure the VM being created (`vm`, manifest name `hostname`) has its config drive: built with
 * genisoimage (instance-id: the VM's uuid, so a replaced VM runs cloud-init again), uploaded through
 * /import_raw_vdi, attached read-only as a disk; then records the config's digest on the VM.
 */
export async function ensureConfigDrive(ctx: ApplyContext, address: string, hostname: string, nameLabel: string, vm: Ref, ci: DesiredCloudInit): Promise<void> {
  const unread = unreadFiles(ci);
  if (unread.length > 0) throw new UnsupportedChangeError(address, `${unread[0]!.path}: ${unread[0]!.message}`);
  const digest = cloudInitDigest(ci, hostname);
  const vmRec = await ctx.caller.call<VMRecord>('VM.get_record', vm);
  const label = driveLabel(nameLabel);
  let drive = await findDrive(ctx, address, vm, label);
  // Another config's drive (the manifest changed while a create was unfinished), or one that lost
  // its key to a kill mid-update: start it over.
  if (drive && drive.rec.other_config[CLOUDINIT_KEY] !== digest && drive.rec.other_config[CLOUDINIT_KEY] !== CLOUDINIT_PENDING) {
    await destroyDisk(ctx, { ...(drive.vbd ? { vbd: drive.vbd } : {}), vdi: drive.vdi });
    drive = undefined;
  }
  if (!drive || drive.rec.other_config[CLOUDINIT_KEY] === CLOUDINIT_PENDING) {
    drive = await writeDrive(ctx, address, vm, label, drive, driveFiles(ci, hostname, vmRec.uuid), digest);
  }
  if (!drive.vbd) await attachDrive(ctx, address, vm, drive.vdi);
  await syncMapKeys(ctx.caller, 'VM', vm, 'other_config', (await ctx.caller.call<VMRecord>('VM.get_record', vm)).other_config, { [CLOUDINIT_KEY]: digest });
}

/** Builds the image, creates the VDI (unless a pending one is there) and uploads; the VDI's mark becomes `digest`. */
async function writeDrive(
  ctx: ApplyContext, address: string, vm: Ref, label: string, pending: { vdi: Ref; rec: VDIRecord; vbd?: Ref } | undefined,
  files: ReturnType<typeof driveFiles>, digest: string,
): Promise<{ vdi: Ref; rec: VDIRecord; vbd?: Ref }> {
  if (!ctx.caller.transferEndpoint) throw new ApplyError(address, 'this XAPI connection cannot upload disk content (it hands out no session)');
  const dir = await mkdtemp(join(tmpdir(), 'xops-cloudinit-'));
  try {
    const built = await buildConfigDrive(files, join(dir, 'cidata.iso'));
    let vdi = pending?.vdi;
    if (vdi && Number(pending!.rec.virtual_size) < built.vdiSize) {
      await destroyDisk(ctx, { ...(pending!.vbd ? { vbd: pending!.vbd } : {}), vdi });
      vdi = undefined;
      pending = undefined;
    }
    if (!vdi) {
      vdi = await ctx.caller.callAsync<Ref>('VDI.create', {
        name_label: label,
        name_description: `${address} cloud-init config drive (NoCloud, label cidata)`,
        SR: await driveSR(ctx, address, vm),
        virtual_size: built.vdiSize,
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: { ...ownershipMarks(ctx, address), [CLOUDINIT_KEY]: CLOUDINIT_PENDING },
        sm_config: {},
        xenstore_data: {},
        tags: [],
      });
      // A repeated VDI.create (reply lost, call resent) leaves a detached pending twin: drop it.
      for (const [ref, r] of await recordsByName<VDIRecord>(ctx.caller, 'VDI', label)) {
        if (ref !== vdi && r.VBDs.length === 0 && r.other_config[CLOUDINIT_KEY] === CLOUDINIT_PENDING && isOwnedBy(r.other_config, address, ctx.repo)) {
          await ctx.caller.callAsync('VDI.destroy', ref);
        }
      }
    }
    const transfer = new VdiTransfer(await ctx.caller.transferEndpoint());
    try {
      ctx.log.info({ address, bytes: built.bytes }, 'uploading the cloud-init config drive');
      await transfer.upload(vdi, { path: built.path }, { format: 'raw' });
    } finally {
      await transfer.close();
    }
    const oc = await ctx.caller.call<Record<string, string>>('VDI.get_other_config', vdi);
    await syncMapKeys(ctx.caller, 'VDI', vdi, 'other_config', oc, { [CLOUDINIT_KEY]: digest });
    return { vdi, rec: await ctx.caller.call<VDIRecord>('VDI.get_record', vdi), ...(pending?.vbd ? { vbd: pending.vbd } : {}) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A read-only disk VBD, not bootable: cloud-init finds the drive by its label, not its position. */
async function attachDrive(ctx: ApplyContext, address: string, vm: Ref, vdi: Ref): Promise<void> {
  const vbd = await ctx.caller.callAsync<Ref>('VBD.create', {
    VM: vm, VDI: vdi, userdevice: await freeUserdevice(ctx, vm), bootable: false, mode: 'RO', type: 'Disk',
    unpluggable: true, empty: false, other_config: ownershipMarks(ctx, address), qos_algorithm_type: '', qos_algorithm_params: {},
  });
  // A repeated VBD.create attaches the drive twice: keep the VBD we got back.
  for (const other of await ctx.caller.call<Ref[]>('VDI.get_VBDs', vdi)) {
    if (other !== vbd && (await tryRecord<VBDRecord>(ctx.caller, 'VBD', other))?.VM === vm) await ctx.caller.callAsync('VBD.destroy', other);
  }
  if ((await ctx.caller.call<string>('VM.get_power_state', vm)) === 'Running') await ctx.caller.callAsync('VBD.plug', vbd);
}

/** `delete:VM/<name>:cloud-init`: detaches and destroys the drive the plan names, only if it carries this VM's marks. */
/**
 * Destroys the config drives made for `address` that no VBD attaches. Called when a create is
 * undone: a drive made but not yet attached goes with the half-built VM, or nothing would ever
 * remove it (`npm run soak` found one left by a create that failed with VM_REQUIRES_NETWORK).
 */
export async function removeDetachedDrives(ctx: ApplyContext, address: string): Promise<void> {
  // A VM's own disks carry their disk key; a marked VDI without one is a drive (its key may be
  // missing: see findDrive).
  for (const [vdi, rec] of await ctx.lookup.managed<VDIRecord>('VDI', address)) {
    if (rec.other_config[DISK_KEY] === undefined && rec.VBDs.length === 0) await destroyDisk(ctx, { vdi });
  }
}

export async function removeConfigDrive(ctx: ApplyContext, action: Action): Promise<void> {
  const vdi = action.objects.find((o) => o.cls === 'VDI');
  const vbd = action.objects.find((o) => o.cls === 'VBD');
  if (!vdi) throw new UnsupportedChangeError(action.address, `${action.id} names no VDI`);
  const oc = await assertOwned(ctx, 'VDI', vdi.ref, action.address);
  if (!oc) return; // already gone
  if (oc[CLOUDINIT_KEY] === undefined) throw new ApplyError(action.address, `VDI ${vdi.uuid} is not a cloud-init config drive`);
  const remove = () => destroyDisk(ctx, { ...(vbd ? { vbd: vbd.ref } : {}), vdi: vdi.ref });
  const vmUuid = action.details?.['vm'];
  if (action.details?.['restart'] === true && typeof vmUuid === 'string') await whileHalted(ctx.caller, await ctx.caller.call<Ref>('VM.get_by_uuid', vmUuid), remove);
  else await remove();
}
