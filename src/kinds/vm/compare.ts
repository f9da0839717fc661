import type { DesiredVM, PowerState } from '../../model/desired.js';
import type { Disruption } from '../../model/kinds.js';
import { type Ref, type VBDRecord, type VDIRecord, type VIFRecord, type VMRecord } from '../../model/observed.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { matchDisks, matchVifs, type DiskMatch } from './identity.js';

export type { DiskMatch } from './identity.js';

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
 * Matches the VM's disks to the manifest's by the rule apply uses too (identity.ts matchDisks): the
 * VDI's `xops.disk`, else a name_label `<vm>-<disk>`, else declared disk i is the unmarked disk on
 * userdevice i. CD drives and empty VBDs are never disks. `declared` is the manifest's disks in
 * order (none: no positional matching).
 */
export function observedDisks(ctx: PlanContext, vmName: string, vm: VMRecord, declared: readonly { name: string }[] = []): Map<string, ObservedDisk> {
  const attached: Omit<ObservedDisk, 'owned' | 'match'>[] = [];
  for (const vbdRef of vm.VBDs) {
    const vbd = read(ctx, 'VBD', vbdRef);
    if (!vbd || vbd.type !== 'Disk' || vbd.empty) continue;
    const vdi = read(ctx, 'VDI', vbd.VDI);
    if (vdi) attached.push({ vbd: vbdRef, vbdRecord: vbd, vdi: vbd.VDI, record: vdi });
  }
  attached.sort((a, b) => Number(a.vbdRecord.userdevice) - Number(b.vbdRecord.userdevice));
  const { byName } = matchDisks(vmName, attached, (d) => ({ userdevice: d.vbdRecord.userdevice, nameLabel: d.record.name_label, otherConfig: d.record.other_config }), declared);
  const out = new Map<string, ObservedDisk>();
  for (const [name, { disk, match }] of byName) out.set(name, { ...disk, owned: match === 'mark', match });
  return out;
}

/** A VM's VIF as observed, and whether xops' mark says it owns it. */
export interface ObservedVif {
  ref: Ref;
  record: VIFRecord;
  owned: boolean;
}

/**
 * Matches VIFs to the manifest's `networks` entries by the rule apply uses too (identity.ts
 * matchVifs): the VIF's `xops.vif` holds the index; a VIF without it matches the entry whose index
 * equals its `device`.
 */
export function observedVifs(ctx: PlanContext, vm: VMRecord): Map<number, ObservedVif> {
  const vifs: ObservedVif[] = [];
  for (const vifRef of vm.VIFs) {
    const vif = read(ctx, 'VIF', vifRef);
    if (vif) vifs.push({ ref: vifRef, record: vif, owned: false });
  }
  vifs.sort((a, b) => Number(a.record.device) - Number(b.record.device));
  const out = new Map<number, ObservedVif>();
  for (const [i, { vif, marked }] of matchVifs(vifs, (v) => ({ device: v.record.device, otherConfig: v.record.other_config })).byIndex) {
    out.set(i, { ...vif, owned: marked });
  }
  return out;
}

/** Real VMs: what VM manifests may stand for (not templates, snapshots or dom0). */
export const isPlainVM = (r: VMRecord) => !r.is_a_template && !r.is_a_snapshot && !r.is_control_domain;

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
