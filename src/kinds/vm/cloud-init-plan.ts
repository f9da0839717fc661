/**
 * What the planner says about a VM's cloudInit. At create: one change summing up the config drive
 * (apply builds and attaches it). Afterwards cloud-init has read the drive already, so nothing that
 * would pretend to change the running guest is planned: a changed config is a warning saying it takes
 * effect only when the VM is replaced, and `removeAfterFirstBoot` becomes a delete of the drive once
 * the guest agent has reported.
 */
import type { DesiredVM } from '../../model/desired.js';
import { MANAGED_KEY, NULL_REF, REPO_KEY, type VMRecord } from '../../model/observed.js';
import type { FieldChange } from '../../model/plan.js';
import type { DraftAction, PlanContext } from '../../plan/context.js';
import { addDiagnostic, addressOfResource, read } from '../../plan/context.js';
import { makeAction, objectRef } from '../../plan/changes.js';
import { CLOUDINIT_KEY, cloudInitDigest, unreadFiles } from './cloud-init.js';
import { driverlessReason, type GuestAbilities } from './guest.js';

/** `details` of the delete that removes a config drive after the first boot (`delete:VM/<name>:cloud-init`). */
export interface VMConfigDriveDeleteDetails {
  vm: string;
  configDrive: { vbd: string; vdi: string };
  /** The guest cannot hot-unplug the disk: apply halts the VM for the removal and starts it again. */
  restart?: boolean;
}

/**
 * Reports the `{file: PATH}` parts the snapshot did not carry; true when the config is complete.
 * For an existing VM only a part with a problem is reported (the text matters for a create).
 */
export function cloudInitReadable(ctx: PlanContext, vm: DesiredVM, creating: boolean): boolean {
  const ci = vm.spec.cloudInit;
  if (!ci) return true;
  let ok = true;
  for (const u of unreadFiles(ci)) {
    const field = u.path.split('.')[2] as 'userData' | 'networkConfig';
    if (!creating && ci.files?.[field]?.problem === undefined) continue;
    addDiagnostic(ctx, vm, 'error', 'cloud-init-file', u.message, u.path);
    ok = false;
  }
  return ok;
}

/** The one change a create lists for the config drive (instead of the texts, which can be long). */
export function cloudInitCreateChange(vm: DesiredVM): FieldChange | undefined {
  const ci = vm.spec.cloudInit;
  if (!ci) return undefined;
  const parts = [`user-data (${Buffer.byteLength(ci.userData)} bytes)`, ...(ci.networkConfig !== undefined ? ['network-config'] : []), 'meta-data'];
  return {
    path: 'spec.cloudInit', from: undefined, disruption: 'none',
    to: `a config drive with ${parts.join(', ')}${ci.removeAfterFirstBoot ? ', removed after the first boot' : ''}`,
    reason: 'the NoCloud drive is written and attached before the VM first starts',
  };
}

/** The VM's config drive as observed: attached, carrying this resource's marks. */
function observedDrive(ctx: PlanContext, address: string, rec: VMRecord): { vbd: [string, string]; vdi: [string, string] } | undefined {
  for (const vbdRef of rec.VBDs) {
    const vbd = read(ctx, 'VBD', vbdRef);
    if (!vbd || vbd.type !== 'Disk' || vbd.empty || vbd.VDI === NULL_REF) continue;
    const vdi = read(ctx, 'VDI', vbd.VDI);
    const oc = vdi?.other_config ?? {};
    if (!vdi || oc[CLOUDINIT_KEY] === undefined || oc[MANAGED_KEY] !== address) continue;
    if (ctx.options.repo !== undefined && oc[REPO_KEY] !== undefined && oc[REPO_KEY] !== ctx.options.repo) continue;
    return { vbd: [vbdRef, vbd.uuid], vdi: [vbd.VDI, vdi.uuid] };
  }
  return undefined;
}

/**
 * For an existing VM: the warning when the declared config is not the one the VM was created with,
 * and the removal of its drive once the guest has reported (removeAfterFirstBoot). `halted`: the VM
 * is (or is first made) halted, so nothing needs unplugging live.
 */
export function planExistingCloudInit(ctx: PlanContext, vm: DesiredVM, rec: VMRecord, guest: GuestAbilities, halted: boolean): DraftAction | undefined {
  const ci = vm.spec.cloudInit;
  if (!ci || unreadFiles(ci).length > 0) return undefined;
  const address = addressOfResource(vm);
  const applied = rec.other_config?.[CLOUDINIT_KEY];
  if (applied !== cloudInitDigest(ci, vm.meta.name)) {
    addDiagnostic(ctx, vm, 'warning', 'cloud-init-needs-replace', applied === undefined
      ? 'this VM was not created with this cloudInit (xops writes the config drive only when it creates a VM): it takes effect only when the VM is replaced; nothing is planned for it'
      : 'cloudInit differs from the config the VM was created with: cloud-init reads its drive at the first boot of an instance, so the change takes effect only when the VM is replaced (re-created); nothing is planned for it', 'spec.cloudInit');
  }
  if (!ci.removeAfterFirstBoot) return undefined;
  const drive = observedDrive(ctx, address, rec);
  if (!drive) return undefined;
  const gm = rec.guest_metrics && rec.guest_metrics !== NULL_REF ? read(ctx, 'VM_guest_metrics', rec.guest_metrics) : undefined;
  if (!gm) return undefined;
  const live = halted || guest.hotplugDisk;
  return makeAction({
    operation: 'delete', resource: vm, detail: 'cloud-init', drift: false,
    reason: `the guest has booted and reported, so its cloud-init config drive is removed (removeAfterFirstBoot)${live ? '' : `; ${driverlessReason('it cannot be unplugged live', guest)}`}`,
    changes: [{ path: 'spec.cloudInit.removeAfterFirstBoot', from: 'drive attached', to: 'drive removed', disruption: live ? 'none' : 'reboot' }],
    objects: [objectRef('VBD', drive.vbd[0], drive.vbd[1]), objectRef('VDI', drive.vdi[0], drive.vdi[1])],
    details: { vm: rec.uuid, configDrive: { vbd: drive.vbd[1], vdi: drive.vdi[1] }, ...(live ? {} : { restart: true }) } satisfies VMConfigDriveDeleteDetails,
  });
}
