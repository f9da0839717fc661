import type { DesiredVM, PowerState } from '../../model/desired.js';
import type { Disruption } from '../../model/kinds.js';
import { DISK_KEY, VIF_KEY, type Ref, type VBDRecord, type VDIRecord, type VIFRecord, type VMRecord } from '../../model/observed.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { isStandaloneVdi } from './attachments.js';

/** How an observed disk was matched to a manifest disk (see observedDisks). */
export type DiskMatch = 'mark' | 'label' | 'position';

/** A VM's disk as observed: its VBD and VDI, and whether xops' mark says it owns it. */
export interface ObservedDisk {
  vbd: Ref;
  vbdRecord: VBDRecord;
  vdi: Ref;
  record: VDIRecord;
  /** True when the VDI carries `xops.disk`; disks matched otherwise are never removed. */
  owned: boolean;
  match: DiskMatch;
}

/**
 * Matches the VM's disks to the manifest's, in this order of precedence: the VDI's
 * `other_config["xops.disk"]`; for a VDI without it (an adopted VM's), a name_label `<vm>-<disk>`;
 * and last, by position: declared disk i is the unmarked disk whose VBD has userdevice i, so an
 * exported VM's disks are recognised without renaming them. CD drives and empty VBDs are never
 * disks. `declared` is the manifest's disks in order (none: no positional matching).
 */
export function observedDisks(ctx: PlanContext, vmName: string, vm: VMRecord, declared: readonly { name: string }[] = []): Map<string, ObservedDisk> {
  const byKey = new Map<string, ObservedDisk>();
  let unmarked: ObservedDisk[] | undefined;
  for (const vbdRef of vm.VBDs) {
    const vbd = read(ctx, 'VBD', vbdRef);
    if (!vbd || vbd.type !== 'Disk' || vbd.empty) continue;
    const vdi = read(ctx, 'VDI', vbd.VDI);
    if (!vdi || isStandaloneVdi(vdi)) continue;
    const key = vdi.other_config?.[DISK_KEY];
    if (key) byKey.set(key, { vbd: vbdRef, vbdRecord: vbd, vdi: vbd.VDI, record: vdi, owned: true, match: 'mark' });
    else (unmarked ??= []).push({ vbd: vbdRef, vbdRecord: vbd, vdi: vbd.VDI, record: vdi, owned: false, match: 'label' });
  }
  if (!unmarked) return byKey;
  const out = new Map(byKey);
  const prefix = `${vmName}-`;
  const taken = new Set<ObservedDisk>();
  for (const disk of unmarked) {
    const label = disk.record.name_label;
    const name = label.startsWith(prefix) ? label.slice(prefix.length) : undefined;
    if (name && !out.has(name)) {
      out.set(name, disk);
      taken.add(disk);
    }
  }
  declared.forEach(({ name }, i) => {
    if (out.has(name)) return;
    const disk = unmarked.find((d) => !taken.has(d) && d.vbdRecord.userdevice === String(i));
    if (!disk) return;
    out.set(name, { ...disk, match: 'position' });
    taken.add(disk);
  });
  return out;
}

/** A VM's VIF as observed, and whether xops' mark says it owns it. */
export interface ObservedVif {
  ref: Ref;
  record: VIFRecord;
  owned: boolean;
}

/**
 * Matches VIFs to the manifest's `networks` entries by position: the VIF's `other_config["xops.vif"]`
 * holds the index; a VIF without it matches the entry whose index equals its `device`.
 */
export function observedVifs(ctx: PlanContext, vm: VMRecord): Map<number, ObservedVif> {
  const out = new Map<number, ObservedVif>();
  const unmarked: ObservedVif[] = [];
  for (const vifRef of vm.VIFs) {
    const vif = read(ctx, 'VIF', vifRef);
    if (!vif) continue;
    const key = vif.other_config?.[VIF_KEY];
    if (key !== undefined && /^\d+$/.test(key)) out.set(Number(key), { ref: vifRef, record: vif, owned: true });
    else unmarked.push({ ref: vifRef, record: vif, owned: false });
  }
  for (const vif of unmarked) {
    const index = Number(vif.record.device);
    if (/^\d+$/.test(vif.record.device) && !out.has(index)) out.set(index, vif);
  }
  return out;
}

/** XAPI's power_state in the manifest's spelling. */
export function powerOf(vm: VMRecord): PowerState {
  return vm.power_state.toLowerCase() as PowerState;
}

/** What a power transition costs: starting is free, anything that stops the workload is downtime. */
export function powerDisruption(from: PowerState, to: PowerState): { disruption: Disruption; reason: string } {
  if (to === 'running') {
    const how = from === 'suspended' ? 'resumed' : from === 'paused' ? 'unpaused' : 'started';
    return { disruption: 'none', reason: `the VM is ${how}` };
  }
  if (to === 'halted') return { disruption: 'downtime', reason: 'halting the VM stops its workload' };
  if (to === 'suspended') return { disruption: 'downtime', reason: 'suspending the VM stops its workload until it is resumed' };
  return { disruption: 'downtime', reason: 'pausing the VM stops its workload until it is unpaused' };
}

/**
 * The cost of a change XAPI only allows on a halted VM: nothing when the VM is (or will first be)
 * halted, otherwise a reboot (apply halts it, changes it, and brings it back to its power state).
 */
export function haltCost(haltedDuringUpdate: boolean, what: string): { disruption: Disruption; reason: string } {
  return haltedDuringUpdate
    ? { disruption: 'none', reason: `${what} is changed while the VM is halted` }
    : { disruption: 'reboot', reason: `${what} needs the VM halted` };
}

/** The template a VM was made from, as XAPI records it on clone (`other_config["base_template_name"]`). */
export function baseTemplateName(vm: VMRecord): string | undefined {
  return vm.other_config?.['base_template_name'] || undefined;
}

export type DesiredVMSpec = DesiredVM['spec'];
