import type { DesiredDisk, DesiredVM, PowerState } from '../../model/desired.js';
import { NULL_REF, type Ref, type SRRecord, type VMRecord } from '../../model/observed.js';
import type { FieldChange, ObjectRef } from '../../model/plan.js';
import type { DraftAction, PlanContext } from '../../plan/context.js';
import { addDiagnostic, addressOfResource, locate, read } from '../../plan/context.js';
import { compareField, compareOtherConfig, compareTags, createChanges, makeAction, objectRef, updateReason } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import type { VMCreatePlacement } from './apply.js';
import { markOf } from '../../plan/ownership-marks.js';
import { anyUndeclaredMark, orphanName, pruneAllowed, wouldPrune } from '../../plan/prune.js';
import { findLive, noteUser, resolveRef, type ResolvedReference } from '../../plan/refs.js';
import { formatBytes } from '../../plan/values.js';
import { planAttachments, resolveAttachments } from './attachments.js';
import { differentTemplate, isTemplate, templateLookup, type TemplateLookup } from './template-origin.js';
import { baseTemplateName, haltCost, isPlainVM, observedDisks, observedVifs, powerDisruption, powerOf } from './compare.js';
import { groupPlacementOf, reserveCapacity, type PlannedStart, type Shortfall } from './preflight.js';
import { driverlessReason, observedGuestAbilities } from './guest.js';
import { MAP_SETTINGS, blockedOperationsOf } from './settings.js';
import { reportedAddresses } from './readiness.js';
import { cloudInitCreateChange, cloudInitReadable, planExistingCloudInit } from './cloud-init-plan.js';
import { derivedValue } from '../../plan/trace.js';

/** A VM's spec with every reference resolved; the `desired` of VM actions. */
export interface ResolvedVMSpec extends Omit<DesiredVM['spec'], 'template' | 'host' | 'appliance' | 'disks' | 'networks' | 'suspendSR'> {
  /** Absent when the manifest declares none (allowed only for a VM that exists: a create needs it). */
  template?: ResolvedReference;
  suspendSR?: ResolvedReference;
  host?: ResolvedReference;
  appliance?: ResolvedReference;
  /** `sr` is always set: an omitted one is resolved to the pool's default SR. */
  disks: (Omit<DesiredDisk, 'sr'> & { sr: ResolvedReference })[];
  networks: { network: ResolvedReference; mac?: string }[];
}

/** `details` of a VM update: exactly what apply changes besides the plain field setters. */
export interface VMUpdateDetails {
  vm: string;
  /** Some change needs the VM halted: apply halts it, changes it, then returns it to its power state. */
  restart: boolean;
  disks: {
    add: { name: string; size: number; sr: ResolvedReference }[];
    resize: { name: string; vdi: string; size: number; online: boolean }[];
    /** Matched without `xops.disk` (by `<vm>-<disk>` name or by position): apply writes the mark. */
    claim: { name: string; vdi: string }[];
  };
  vifs: {
    add: { index: number; network: ResolvedReference; mac?: string }[];
    move: { index: number; vif: string; network: ResolvedReference }[];
    /** A new MAC: the VIF is destroyed and created again on the same device. */
    recreate: { index: number; vif: string; network: ResolvedReference; mac: string }[];
    remove: { index: number; vif: string }[];
    claim: { index: number; vif: string }[];
  };
}

/**
 * `details` of an adopt: the declared disks found without an `xops.disk` mark (by their
 * `<vm>-<disk>` name, or by position: userdevice i for disk i), which apply marks as those disks.
 */
export interface VMAdoptDetails {
  vm: string;
  disks: { claim: { name: string; vdi: string; match: 'label' | 'position' }[] };
}

/** `details` of removing one declared-no-more disk (`delete:VM/<name>:disk/<disk>`). */
export interface VMDiskDeleteDetails {
  vm: string;
  disk: string;
  vbd: string;
  vdi: string;
  /**
   * The VM runs and its guest cannot hot-unplug the disk (no PV drivers): XAPI refuses VBD.unplug
   * with VM_MISSING_PV_DRIVERS, so the VM must be halted for the removal and started again.
   */
  restart?: boolean;
}

/** `details` of a power action. */
export interface VMPowerDetails {
  vm: string;
  from: PowerState;
  to: PowerState;
}

/** `details` of a live migration to the affinity host. */
export interface VMMigrateDetails {
  vm: string;
  host: string;
}

/** `details` of a replace: the VM (and these disks) are destroyed, then created again from `desired`. */
export interface VMReplaceDetails {
  vm: string;
  vdis: string[];
}

/** Annotation on a VM manifest asking for a live migration when the VM is not on its affinity host. */
export const MIGRATE_ANNOTATION = 'xops.io/migrate-on-affinity';

export { isPlainVM } from './compare.js';

/** The references of a VM's spec, resolved: what planning reads; the whole ResolvedVMSpec only goes into actions. */
interface ResolvedVMRefs extends Pick<ResolvedVMSpec, 'host' | 'appliance' | 'disks' | 'networks' | 'suspendSR'> {
  /** The declared template, found (resolveSpec fails when a declared one is not); absent when none is declared. */
  template?: [Ref, VMRecord];
}

/** The pool's templates by name and reference_label, indexed once per plan. */
function planTemplates(ctx: PlanContext): TemplateLookup {
  return templatesOf(ctx, () => templateLookup(ctx.observed.records.VM));
}

/** The lookup is a function of the template records alone: VMs that are none do not change it. */
const templatesOf = derivedValue<TemplateLookup>('vm:templates', (state) => {
  const out: VMRecord[] = [];
  for (const rec of state.records.VM.values()) if (isTemplate(rec)) out.push(rec);
  return out;
});

/** The pool's default SR as the snapshot has it, looked up once per plan (many VMs rely on it). */
function observedDefaultSR(ctx: PlanContext): { pool: Ref; sr: SRRecord } | undefined {
  // Two lookups, asked by each VM itself (no per-plan cache): a memo replaying a VM checks them.
  const pool = ctx.index.first('pool');
  const sr = pool ? ctx.index.get('SR', pool[1].default_SR) : undefined;
  return pool && sr ? { pool: pool[0], sr } : undefined;
}

function resolveSpec(ctx: PlanContext, vm: DesiredVM, needs: string[]): ResolvedVMRefs | undefined {
  const { spec } = vm;
  const template = spec.template ? findLive(ctx, vm, 'spec.template', spec.template.name, { cls: 'VM', kind: 'VM', isCandidate: isTemplate }) : undefined;
  const host = spec.host ? resolveRef(ctx, vm, 'spec.host', spec.host, { cls: 'host', kind: 'Host' }, needs) : undefined;
  // An appliance manifest sets its members itself (it runs after the VMs), so no dependency here.
  const appliance = spec.appliance
    ? resolveRef(ctx, vm, 'spec.appliance', spec.appliance, { cls: 'VM_appliance', kind: 'VMAppliance' }, [])
    : undefined;
  let defaultSR: ResolvedReference | undefined;
  const poolDefault = (): ResolvedReference | undefined => {
    if (defaultSR) return defaultSR;
    const path = 'spec.disks';
    if (ctx.desired.pool?.spec.defaultSR) {
      defaultSR = resolveRef(ctx, vm, path, ctx.desired.pool.spec.defaultSR, { cls: 'SR', kind: 'SR' }, needs);
      return defaultSR;
    }
    const found = observedDefaultSR(ctx);
    if (!found) {
      addDiagnostic(ctx, vm, 'error', 'no-default-sr', 'a disk has no sr and the pool has no default SR', path);
      return undefined;
    }
    const { sr } = found;
    read(ctx, 'pool', found.pool);
    defaultSR = { name: sr.name_label, target: 'live', checked: true, uuid: sr.uuid };
    return defaultSR;
  };
  const disks = spec.disks.map((d, i) => ({
    ...d,
    sr: (d.sr ? resolveRef(ctx, vm, `spec.disks[${i}].sr`, d.sr, { cls: 'SR', kind: 'SR' }, needs) : poolDefault())!,
  }));
  const networks = spec.networks.map((n, i) => ({
    ...n,
    network: resolveRef(ctx, vm, `spec.networks[${i}].network`, n.network, { cls: 'network', kind: 'Network' }, needs)!,
  }));
  const suspendSR = spec.suspendSR ? resolveRef(ctx, vm, 'spec.suspendSR', spec.suspendSR, { cls: 'SR', kind: 'SR' }, needs) : undefined;
  if (ctx.failed.has(addressOfResource(vm)) || (spec.template && !template)) return undefined;
  return { template, host, appliance, disks, networks, suspendSR };
}

const STARTS: ReadonlySet<PowerState> = new Set(['running', 'paused']);

function migrateWanted(ctx: PlanContext, vm: DesiredVM): boolean {
  return ctx.options.migrateOnAffinity ?? vm.meta.annotations[MIGRATE_ANNOTATION] === 'true';
}

/**
 * Plans one VM manifest: a create; or for an existing VM, in the order apply runs them: adopt, a halt
 * (when the manifest halts it), the update, disk removals, a migration, and a start/resume.
 */
export function planVM(ctx: PlanContext, vm: DesiredVM): void {
  const address = addressOfResource(vm);
  const owner = ctx.owners.get(address);
  if (!owner || owner.state === 'conflict') return;
  const needs: string[] = [];
  const attachments = resolveAttachments(ctx, vm, needs);
  const refs = resolveSpec(ctx, vm, needs);
  if (!refs) return;
  // Built only for the VMs that get an action: most of 10k VMs need none.
  let resolvedSpec: ResolvedVMSpec | undefined;
  const desired = () => (resolvedSpec ??= {
    ...vm.spec, ...(vm.spec.template && refs.template ? { template: { ...vm.spec.template, uuid: refs.template[1].uuid } } : {}), host: refs.host, appliance: refs.appliance, disks: refs.disks, networks: refs.networks,
    ...(refs.suspendSR ? { suspendSR: refs.suspendSR } : {}),
  });
  const tplRef = refs.template;
  const firstAction = ctx.actions.length;
  /** Refuses the whole VM for lack of room: none of its actions run, so nothing changes. */
  const refuseForCapacity = (problems: Shortfall[]): void => {
    ctx.actions.splice(firstAction);
    for (const p of problems) ctx.refused.push({ address, path: p.path, reason: p.reason });
  };
  if (owner.state === 'absent') {
    if (!tplRef) return templateNeeded(ctx, vm);
    if (!isoFound(ctx, vm) || !cloudInitReadable(ctx, vm, true)) return;
    if (vm.spec.appliance !== undefined) {
      const delays = (['startDelay', 'shutdownDelay'] as const).filter((f) => vm.spec[f] !== undefined);
      if (delays.length > 0) {
        for (const f of delays) ctx.refused.push({ address, path: `spec.${f}`, reason: applianceOwnsDelay(f) });
        return;
      }
    }
    const problems = reserveCapacity(ctx, vm, refs.disks.map((d) => ({ name: d.name, bytes: d.size, sr: d.sr })),
      STARTS.has(vm.spec.powerState) ? { memory: vm.spec.memory, vcpus: vm.spec.vcpus, protected: vm.spec.haRestartPriority === 'restart', networks: refs.networks.map((n) => n.network) } : undefined, refs.host);
    if (problems.length > 0) return refuseForCapacity(problems);
    // Apply honours a placement only for a VM it starts running (VM.start_on); the others start where XAPI says.
    const placed = vm.spec.powerState === 'running' ? groupPlacementOf(ctx, vm.meta.name) : undefined;
    const where = placed ? ` on ${placed.host.name} (anti-affinity group ${placed.group}: ${placed.sharing === 0 ? 'no other member runs there' : `${placed.sharing} other member(s) already run there`})` : '';
    if (placed && placed.sharing > 0) {
      addDiagnostic(ctx, vm, 'warning', 'anti-affinity',
        placed.networks
          ? `VM '${vm.spec.nameLabel}' starts on ${placed.host.name} beside ${placed.sharing} other member(s) of anti-affinity group ${placed.group}: its networks allow no other host (${placed.networks}); XAPI's rule is soft`
          : `VM '${vm.spec.nameLabel}' starts on ${placed.host.name} beside ${placed.sharing} other member(s) of anti-affinity group ${placed.group}: no enabled host without a member has room for it (XAPI's rule is soft); add a host or free memory to spread the ${placed.members} members`);
    }
    const started = vm.spec.powerState !== 'halted' ? `, then ${vm.spec.powerState}${where}` : '';
    const configDrive = cloudInitCreateChange(vm);
    // The texts themselves stay out of the changes (they can be long): one line sums the drive up.
    const changes = configDrive ? [...createChanges({ ...vm.spec, cloudInit: undefined }), configDrive] : createChanges(vm.spec);
    ctx.actions.push(makeAction({
      operation: 'create', resource: vm, changes, desired: desired(), needs,
      objects: [objectRef('VM', tplRef[0], tplRef[1].uuid)],
      reason: `new VM from template '${tplRef[1].name_label}'${started}`,
      ...(placed ? { details: { startOn: { uuid: placed.host.uuid, name: placed.host.name }, group: placed.group } satisfies VMCreatePlacement } : {}),
    }));
    return;
  }
  const ref = owner.ref as Ref;
  const rec = owner.record as VMRecord;
  noteGuestAddresses(ctx, address, rec);
  if (!cloudInitReadable(ctx, vm, false)) return;
  const self = objectRef('VM', ref, rec.uuid);
  // Digesting the spec costs more than the rest of a no-op VM: only done when an action needs it.
  let driftMemo: boolean | undefined;
  const drift = () => (driftMemo ??= owner.mark.spec !== undefined && owner.mark.spec === specDigest(vm));
  const push = (a: DraftAction) => ctx.actions.push(a);
  const disks = observedDisks(ctx, vm.meta.name, rec, refs.disks);
  if (owner.state === 'adopt') {
    const claim: VMAdoptDetails['disks']['claim'] = [];
    for (const d of refs.disks) {
      const o = disks.get(d.name);
      if (o && o.match !== 'mark') claim.push({ name: d.name, vdi: o.record.uuid, match: o.match });
    }
    push(makeAction({
      operation: 'adopt', resource: vm, objects: [self], desired: desired(),
      reason: `takes ownership of the existing VM '${rec.name_label}' (writes xops' mark${claim.length ? ` on it and its ${claim.length} declared disk(s)` : ''})`,
      details: { vm: rec.uuid, disks: { claim } } satisfies VMAdoptDetails,
    }));
  }
  const vifs = observedVifs(ctx, rec);

  // Without a declared template there is nothing to compare: the VM's template mattered only for its create.
  if (tplRef && differentTemplate(rec, tplRef[1], planTemplates(ctx))) {
    const base = baseTemplateName(rec);
    const vdis = [...disks.values()];
    const disruption = vdis.length > 0 ? 'destructive' : rec.power_state !== 'Halted' ? 'downtime' : 'none';
    const reason = vdis.length > 0
      ? `a new template means a new VM: this one is destroyed with its ${vdis.length} disk(s) and their data`
      : 'a new template means a new VM: this one is destroyed and created again';
    push(makeAction({
      operation: 'replace', resource: vm, desired: desired(), drift: drift(), needs, reason,
      changes: [{ path: 'spec.template', from: base, to: tplRef[1].name_label, disruption, reason }],
      objects: [self, ...vdis.map((d) => objectRef('VDI', d.vdi, d.record.uuid)), objectRef('VM', tplRef[0], tplRef[1].uuid)],
      details: { vm: rec.uuid, vdis: vdis.map((d) => d.record.uuid) } satisfies VMReplaceDetails,
    }));
    return;
  }

  const { spec } = vm;
  const current = powerOf(rec);
  const target = spec.powerState;
  const haltFirst = target === 'halted' && current !== 'halted';
  const halted = current === 'halted' || target === 'halted';
  // A running guest stays up through the update: what it cannot take live (no PV drivers) costs a reboot.
  const liveGuest = current === 'running' && !halted;
  if (liveGuest && rec.guest_metrics) read(ctx, 'VM_guest_metrics', rec.guest_metrics);
  const guest = observedGuestAbilities(ctx.index, rec);
  const unlessDriverless = (able: boolean, what: string, live: { disruption: FieldChange['disruption']; reason: string }) =>
    liveGuest && !able ? { disruption: 'reboot' as const, reason: driverlessReason(what, guest) } : live;
  /** New bytes the update puts on SRs: added disks and the growth of grown ones. */
  const newBytes: { name: string; bytes: number; sr: ResolvedReference }[] = [];
  const changes: FieldChange[] = [];
  const objects: ObjectRef[] = [self];
  // Built on first use: most VMs of a large pool need no update.
  let detailsMemo: VMUpdateDetails | undefined;
  const details = () => (detailsMemo ??= {
    vm: rec.uuid,
    restart: false,
    disks: { add: [], resize: [], claim: [] },
    vifs: { add: [], move: [], recreate: [], remove: [], claim: [] },
  });
  const costly = (path: string, from: unknown, to: unknown, cost: { disruption: FieldChange['disruption']; reason: string }) =>
    compareField(changes, path, from, to, cost.disruption, cost.reason);

  compareField(changes, 'spec.nameLabel', rec.name_label, spec.nameLabel);
  if (spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, spec.description);

  // Memory (PROTOCOL §11): the static range changes only while halted; the dynamic range inside it live.
  const smax = rec.memory_static_max;
  if (spec.memoryMax !== smax) {
    costly('spec.memoryMax', smax, spec.memoryMax, haltCost(halted, spec.memoryMax > smax ? 'raising static_max' : 'lowering static_max'));
  }
  if (spec.memory !== rec.memory_dynamic_max || spec.memory !== rec.memory_dynamic_min) {
    const cost = spec.memory > smax
      ? haltCost(halted, 'memory above static_max')
      : spec.memory < rec.memory_static_min
        ? haltCost(halted, 'memory below static_min')
        : unlessDriverless(guest.liveSizing, 'changing memory live', { disruption: 'none' as const, reason: 'memory within the static range is changed live' });
    changes.push({ path: 'spec.memory', from: rec.memory_dynamic_max, to: spec.memory, ...cost });
  }
  if (spec.vcpusMax !== rec.VCPUs_max) costly('spec.vcpusMax', rec.VCPUs_max, spec.vcpusMax, haltCost(halted, 'changing VCPUs_max'));
  if (spec.vcpus !== rec.VCPUs_at_startup) {
    costly('spec.vcpus', rec.VCPUs_at_startup, spec.vcpus, spec.vcpus > rec.VCPUs_max
      ? haltCost(halted, 'VCPUs beyond VCPUs_max')
      : unlessDriverless(guest.liveSizing, 'changing VCPUs live', { disruption: 'none', reason: 'VCPUs up to VCPUs_max are changed live' }));
  }

  let migrateTo: { ref: Ref; uuid: string; name: string } | undefined;
  if (refs.host?.uuid) {
    const affinity = ctx.index.get('host', rec.affinity);
    const target = ctx.index.byUuid('host', refs.host.uuid)!;
    // By identity: a Host manifest's name (or a uuid) need not be the host's name_label.
    if (affinity?.uuid !== target[1].uuid) {
      changes.push({ path: 'spec.host', from: affinity?.name_label, to: spec.host!.name, disruption: 'none', reason: 'affinity is metadata: it steers where the VM starts next' });
    }
    const resident = ctx.index.get('host', rec.resident_on);
    if (migrateWanted(ctx, vm) && current === 'running' && spec.powerState === 'running' && resident?.uuid !== target[1].uuid) {
      migrateTo = { ref: target[0], uuid: target[1].uuid, name: target[1].name_label };
    }
  }
  if (spec.haRestartPriority !== undefined) compareField(changes, 'spec.haRestartPriority', rec.ha_restart_priority, spec.haRestartPriority);
  if (spec.autoPowerOn !== undefined) compareField(changes, 'spec.autoPowerOn', rec.other_config?.['auto_poweron'] === 'true', spec.autoPowerOn);
  if (spec.appliance?.target === 'live' && refs.appliance?.uuid) {
    const currentApp = ctx.index.get('VM_appliance', rec.appliance);
    if (currentApp?.uuid !== refs.appliance.uuid) {
      changes.push({ path: 'spec.appliance', from: currentApp?.name_label, to: spec.appliance.name, disruption: 'none' });
    }
  }
  compareTags(ctx, vm, changes, rec.tags, spec.tags);
  compareOtherConfig(changes, rec.other_config, spec.otherConfig);
  compareSettings(ctx, vm, rec, refs, changes, halted);

  // Disks, matched by the VDI's xops.disk mark.
  const diskDeletes: DraftAction[] = [];
  const declaredDisks = new Set(refs.disks.map((d) => d.name));
  for (const d of refs.disks) {
    const path = `spec.disks[${d.name}]`;
    const o = disks.get(d.name);
    if (!o) {
      details().disks.add.push({ name: d.name, size: d.size, sr: d.sr });
      newBytes.push({ name: d.name, bytes: d.size, sr: d.sr });
      changes.push({
        path, from: undefined, to: { size: d.size, sr: d.sr.name },
        ...(halted ? { disruption: 'none', reason: 'a new disk is attached while the VM is halted' }
          : unlessDriverless(guest.hotplugDisk, `attaching disk '${d.name}'`, { disruption: 'none', reason: 'new disks are hot-plugged' })),
      });
      continue;
    }
    objects.push(objectRef('VBD', o.vbd, o.vbdRecord.uuid), objectRef('VDI', o.vdi, o.record.uuid));
    // The disk stays where it is (moves are refused): its SR must not be deleted under it.
    noteUser(ctx, o.record.SR, vm, `${path}`);
    if (!o.owned) details().disks.claim.push({ name: d.name, vdi: o.record.uuid });
    const size = o.record.virtual_size;
    if (d.size < size) {
      ctx.refused.push({ address, path: `${path}.size`, from: size, to: d.size, reason: `shrinking a disk would lose data (${formatBytes(size)} → ${formatBytes(d.size)})` });
    } else if (d.size > size) {
      const sr = read(ctx, 'SR', o.record.SR);
      const online = !halted && ((sr?.['allowed_operations'] as string[] | undefined) ?? []).includes('vdi_resize_online');
      const cost = halted || online
        ? { disruption: 'none' as const, reason: online ? 'the SR resizes disks online (VDI.resize_online)' : 'the disk is resized while the VM is halted' }
        : haltCost(false, `growing a disk on SR '${sr?.name_label ?? '?'}', whose driver cannot resize online,`);
      costly(`${path}.size`, size, d.size, cost);
      details().disks.resize.push({ name: d.name, vdi: o.record.uuid, size: d.size, online });
      if (sr) newBytes.push({ name: d.name, bytes: d.size - size, sr: { name: sr.name_label, target: 'live', checked: true, uuid: sr.uuid } });
    }
    const currentSR = ctx.index.get('SR', o.record.SR);
    // A disk without its own `sr` lives where it is: a new pool default SR is for new disks only.
    const srDeclared = vm.spec.disks.find((x) => x.name === d.name)?.sr !== undefined;
    if (srDeclared && d.sr.uuid && currentSR && currentSR.uuid !== d.sr.uuid) {
      ctx.refused.push({ address, path: `${path}.sr`, from: currentSR.name_label, to: d.sr.name,
        reason: 'moving a disk to another SR is not planned: migrate the VDI yourself (VDI.pool_migrate), then update the manifest' });
    }
  }
  for (const [name, o] of disks) {
    if (declaredDisks.has(name) || !o.owned) continue;
    const vbd = ctx.index.get('VBD', o.vbd)!;
    if (!pruneAllowed(ctx, 'VM', vm.meta.name, vm.meta.labels)) {
      wouldPrune(ctx, address, `disk '${name}' (${formatBytes(o.record.virtual_size)}, VDI ${o.record.uuid})`);
      continue;
    }
    const unplugLive = !liveGuest || guest.hotplugDisk;
    diskDeletes.push(makeAction({
      operation: 'delete', resource: vm, detail: `disk/${name}`, disruption: 'destructive', drift: drift(),
      reason: `removing disk '${name}' destroys its VDI and the ${formatBytes(o.record.virtual_size)} of data on it${unplugLive ? '' : `; ${driverlessReason('it cannot be unplugged live', guest)}`}`,
      changes: [{ path: `spec.disks[${name}]`, from: { size: o.record.virtual_size }, to: undefined, disruption: 'destructive' }],
      objects: [objectRef('VBD', o.vbd, vbd.uuid), objectRef('VDI', o.vdi, o.record.uuid)],
      details: { vm: rec.uuid, disk: name, vbd: vbd.uuid, vdi: o.record.uuid, ...(unplugLive ? {} : { restart: true }) } satisfies VMDiskDeleteDetails,
    }));
  }

  planAttachments(ctx, address, rec, attachments, changes, objects);

  // VIFs, matched by position.
  refs.networks.forEach((n, i) => {
    const path = `spec.networks[${i}]`;
    const o = vifs.get(i);
    if (!o) {
      details().vifs.add.push({ index: i, network: n.network, mac: n.mac });
      changes.push({
        path, from: undefined, to: n.network.name,
        ...(halted ? { disruption: 'none', reason: 'a new VIF is attached while the VM is halted' }
          : unlessDriverless(guest.hotplugVif, `attaching a VIF on '${n.network.name}'`, { disruption: 'none', reason: 'new VIFs are hot-plugged' })),
      });
      return;
    }
    objects.push(objectRef('VIF', o.ref, o.record.uuid));
    if (!o.owned) details().vifs.claim.push({ index: i, vif: o.record.uuid });
    const currentNet = ctx.index.get('network', o.record.network);
    if (!n.network.uuid || currentNet?.uuid !== n.network.uuid) {
      details().vifs.move.push({ index: i, vif: o.record.uuid, network: n.network });
      changes.push({
        path: `${path}.network`, from: currentNet?.name_label, to: n.network.name,
        ...unlessDriverless(guest.hotplugVif, `moving VIF ${i} to '${n.network.name}'`, { disruption: 'none', reason: 'VIF.move moves the VIF to the new network, even while the VM runs' }),
      });
    }
    if (n.mac && n.mac.toLowerCase() !== o.record.MAC.toLowerCase()) {
      details().vifs.recreate.push({ index: i, vif: o.record.uuid, network: n.network, mac: n.mac });
      changes.push({
        path: `${path}.mac`, from: o.record.MAC, to: n.mac,
        ...unlessDriverless(guest.hotplugVif, `re-creating VIF ${i} with a new MAC`, { disruption: 'none', reason: "a VIF's MAC cannot change: the VIF is unplugged, re-created and plugged" }),
      });
    }
  });
  for (const [i, o] of vifs) {
    if (i < refs.networks.length || !o.owned) continue;
    objects.push(objectRef('VIF', o.ref, o.record.uuid));
    details().vifs.remove.push({ index: i, vif: o.record.uuid });
    changes.push({
      path: `spec.networks[${i}]`, from: ctx.index.get('network', o.record.network)?.name_label, to: undefined,
      ...unlessDriverless(guest.hotplugVif, `removing VIF ${i}`, { disruption: 'none', reason: 'the VIF is hot-unplugged and destroyed' }),
    });
  }

  const power = current !== target
    ? makeAction({
      operation: 'power', resource: vm, objects: [self], drift: drift(), desired: desired(),
      ...(() => {
        const cost = powerDisruption(current, target);
        return { reason: cost.reason, changes: [{ path: 'spec.powerState', from: current, to: target, ...cost }] };
      })(),
      details: { vm: rec.uuid, from: current, to: target } satisfies VMPowerDetails,
    })
    : undefined;
  const starts = (current === 'halted' || current === 'suspended') && STARTS.has(target);
  const protectedStart = (spec.haRestartPriority ?? rec.ha_restart_priority) === 'restart';
  // A reboot-labelled update halts the running VM and starts it again (on any host that has room).
  const restarts = liveGuest && changes.some((c) => c.disruption === 'reboot');
  const start: PlannedStart | undefined = starts
    ? { memory: spec.memory, vcpus: spec.vcpus, protected: protectedStart, networks: refs.networks.map((n) => n.network) }
    : restarts
      ? { memory: spec.memory, vcpus: spec.vcpus, protected: protectedStart, releases: { host: rec.resident_on, memory: rec.memory_dynamic_max, vm: ref }, networks: refs.networks.map((n) => n.network) }
      : undefined;
  const grow = liveGuest && !restarts && spec.memory > rec.memory_dynamic_max ? { host: rec.resident_on, bytes: spec.memory - rec.memory_dynamic_max } : undefined;
  const problems = reserveCapacity(ctx, vm, newBytes, start, restarts ? undefined : refs.host, grow);
  if (problems.length > 0) return refuseForCapacity(problems);
  if (power && haltFirst) push(power);
  if (changes.length > 0) {
    push(makeAction({
      operation: 'update', resource: vm, changes, objects, desired: desired(), drift: drift(), needs,
      reason: updateReason(changes, 'VM settings are changed live'),
      // A vTPM removal on a running VM needs it halted too, though its label is the worse `destructive`.
      details: { ...details(), restart: changes.some((c) => c.disruption === 'reboot' || (c.path === 'spec.vtpm' && !halted)) } as unknown as Record<string, unknown>,
    }));
  }
  diskDeletes.forEach(push);
  const driveDelete = planExistingCloudInit(ctx, vm, rec, guest, halted);
  if (driveDelete) push(driveDelete);
  if (migrateTo) {
    push(makeAction({
      operation: 'migrate', resource: vm, objects: [self, objectRef('host', migrateTo.ref, migrateTo.uuid)], drift: drift(), desired: desired(),
      reason: `live migration to the affinity host '${migrateTo.name}' (VM.pool_migrate, live)`,
      changes: [{ path: 'status.residentOn', from: ctx.index.get('host', rec.resident_on)?.name_label, to: migrateTo.name, disruption: 'none' }],
      details: { vm: rec.uuid, host: migrateTo.uuid } satisfies VMMigrateDetails,
    }));
  }
  if (power && !haltFirst) push(power);
}

/**
 * Records what the VM's live guest agent reports, for `plan.guests` (/status, `plan --out json`). Read
 * from the index, not through `read`: addresses are shown, never decided on, so they do not make a saved plan stale.
 */
function noteGuestAddresses(ctx: PlanContext, address: string, rec: VMRecord): void {
  const gm = ctx.index.get('VM_guest_metrics', rec.guest_metrics);
  if (!gm || gm['live'] === false) return;
  const addresses = reportedAddresses(gm['networks'] as Record<string, string> | undefined);
  if (addresses.length > 0) ctx.guests.set(address, addresses);
}

/**
 * A manifest without a template can only describe a VM that exists: planning its create is an
 * error at the manifest (its `spec`, as the template line is missing), so apply changes nothing.
 */
function templateNeeded(ctx: PlanContext, vm: DesiredVM): void {
  const address = addressOfResource(vm);
  ctx.diagnostics.push({
    severity: 'error', code: 'template-needed', address, path: 'spec.template', location: locate(ctx, vm, 'spec'),
    message: `spec.template is needed to create VM '${vm.spec.nameLabel}': no such VM exists in the pool; name the template to clone (its name_label or uuid)`,
  });
  ctx.failed.add(address);
}

/** The declared ISO is exactly one VDI on an ISO SR (else an error diagnostic says why). */
function isoFound(ctx: PlanContext, vm: DesiredVM): boolean {
  const want = vm.spec.cdrom?.iso;
  if (want === undefined) return true;
  const found = ctx.index.byName('VDI', want).filter(([, v]) => ctx.index.get('SR', v.SR)?.content_type === 'iso');
  if (found.length === 1) return true;
  addDiagnostic(ctx, vm, 'error', 'cdrom-iso', found.length === 0 ? `no ISO named '${want}' on an ISO SR` : `${found.length} ISOs are named '${want}': rename one`, 'spec.cdrom.iso');
  return false;
}

/**
 * The CD drive: a disc change is live (VBD.eject / VBD.insert); a new drive is attached while the VM
 * is halted (an HVM guest's emulated CD drive is not hot-plugged). The ISO must be a VDI on an ISO SR.
 */
function compareCdrom(ctx: PlanContext, vm: DesiredVM, rec: VMRecord, changes: FieldChange[], halted: boolean): void {
  const want = vm.spec.cdrom!.iso;
  if (!isoFound(ctx, vm)) return;
  const drive = rec.VBDs.map((r) => read(ctx, 'VBD', r)).find((v) => v?.type === 'CD');
  if (!drive) {
    changes.push({ path: 'spec.cdrom', from: undefined, to: want ?? '(empty)', ...haltCost(halted, 'adding a CD drive') });
    return;
  }
  const have = drive.empty ? undefined : ctx.index.get('VDI', drive.VDI)?.name_label;
  if (have !== want) changes.push({ path: 'spec.cdrom.iso', from: have, to: want, disruption: 'none', reason: 'the disc is changed live (VBD.eject, VBD.insert)' });
}

const costlyChange = (changes: FieldChange[], path: string, from: unknown, to: unknown, cost: { disruption: FieldChange['disruption']; reason: string }) =>
  changes.push({ path, from, to, ...cost });

const applianceOwnsDelay = (field: 'startDelay' | 'shutdownDelay') =>
  `the VM is a member of an appliance, whose VMAppliance manifest owns its ${field} (members[].${field}): declare the delay there`;

/**
 * The platform, boot and scheduling settings (settings.ts), blocked operations, xenstore keys,
 * delays and the suspend SR. What XAPI reads only when it builds the domain costs a reboot on a
 * running VM (apply halts it, writes, starts it); the rest is metadata or applied live.
 */
function compareSettings(ctx: PlanContext, vm: DesiredVM, rec: VMRecord, refs: ResolvedVMRefs, changes: FieldChange[], halted: boolean): void {
  const { spec } = vm;
  for (const s of MAP_SETTINGS) {
    const want = s.wanted(spec);
    if (want === undefined) continue;
    const have = s.current(rec);
    if (have === want) continue;
    const cost = s.atBoot
      ? haltCost(halted, `${s.what} is read when the VM boots, so changing it`)
      : s.map === 'VCPUs_params'
        ? { disruption: 'none' as const, reason: `${s.what} is applied to the running VM (VM.add_to_VCPUs_params_live)` }
        : { disruption: 'none' as const, reason: `${s.what} is read at the next boot` };
    compareField(changes, s.path, have, want, cost.disruption, cost.reason);
  }
  if (spec.blockedOperations !== undefined) {
    const have = blockedOperationsOf(rec);
    if (have.join(',') !== spec.blockedOperations.join(',')) {
      changes.push({ path: 'spec.blockedOperations', from: have, to: spec.blockedOperations, disruption: 'none', reason: 'blocked operations are metadata XAPI checks on each call' });
    }
  }
  if (spec.xenstoreData !== undefined) {
    const cur = rec.xenstore_data ?? {};
    for (const [key, value] of Object.entries(spec.xenstoreData)) {
      compareField(changes, `spec.xenstoreData.${key}`, cur[key], value, 'none', 'the guest reads xenstore_data when it boots: it sees the new value at its next boot');
    }
  }
  // Membership from either side: a live appliance, or an appliance manifest listing the VM (the loader fills spec.appliance in).
  const inAppliance = spec.appliance !== undefined || (rec.appliance && rec.appliance !== NULL_REF && ctx.index.get('VM_appliance', rec.appliance) !== undefined);
  for (const [field, key] of [['startDelay', 'start_delay'], ['shutdownDelay', 'shutdown_delay']] as const) {
    const want = spec[field];
    if (want === undefined) continue;
    if (inAppliance) {
      ctx.refused.push({ address: addressOfResource(vm), path: `spec.${field}`, reason: applianceOwnsDelay(field) });
      continue;
    }
    compareField(changes, `spec.${field}`, Number(rec[key]), want, 'none', `${key} is metadata for appliance and pool start-up order`);
  }
  if (spec.vtpm !== undefined) {
    const has = (rec.VTPMs ?? []).length > 0;
    if (spec.vtpm && !has) costlyChange(changes, 'spec.vtpm', false, true, haltCost(halted, 'attaching a vTPM (VTPM.create)'));
    if (!spec.vtpm && has) {
      changes.push({ path: 'spec.vtpm', from: true, to: false, disruption: 'destructive', reason: `removing the vTPM destroys the keys the guest sealed in it${halted ? '' : '; the VM is halted for it'}` });
    }
  }
  if (spec.cdrom !== undefined) compareCdrom(ctx, vm, rec, changes, halted);
  if (refs.suspendSR) {
    const cur = ctx.index.get('SR', rec.suspend_SR ?? NULL_REF);
    if (!refs.suspendSR.uuid || cur?.uuid !== refs.suspendSR.uuid) {
      changes.push({ path: 'spec.suspendSR', from: cur?.name_label, to: refs.suspendSR.name, disruption: 'none', reason: 'the suspend SR is used at the next suspend' });
    }
  }
}

/** Managed VMs with no manifest any more: deleted (with the disks xops made) only when prune is on. */
export function pruneVMs(ctx: PlanContext): void {
  if (!anyUndeclaredMark(ctx, 'VM', 'VM')) return;
  for (const [ref, rec] of ctx.observed.records.VM) {
    if (!isPlainVM(rec)) continue;
    const mark = markOf(rec);
    const name = orphanName(ctx, 'VM', mark);
    if (name === undefined) continue;
    read(ctx, 'VM', ref);
    const disks = [...observedDisks(ctx, name, rec).values()].filter((d) => d.owned);
    if (!pruneAllowed(ctx, 'VM', name)) {
      wouldPrune(ctx, mark.address!, `VM '${rec.name_label}' (${rec.uuid}${disks.length ? `, with ${disks.length} disk(s)` : ''})`);
      continue;
    }
    const running = rec.power_state !== 'Halted';
    const disruption = disks.length > 0 ? 'destructive' : running ? 'downtime' : 'none';
    ctx.actions.push(makeAction({
      operation: 'delete', resource: { kind: 'VM', meta: { name } }, disruption,
      reason: disks.length > 0
        ? `the VM is no longer declared: it is ${running ? 'halted and ' : ''}destroyed with its ${disks.length} disk(s) and their data`
        : `the VM is no longer declared: it is ${running ? 'halted and ' : ''}destroyed`,
      objects: [objectRef('VM', ref, rec.uuid), ...disks.flatMap((d) => [
        objectRef('VBD', d.vbd, ctx.index.get('VBD', d.vbd)!.uuid), objectRef('VDI', d.vdi, d.record.uuid)])],
      details: { vm: rec.uuid, vdis: disks.map((d) => d.record.uuid) },
    }));
  }
}
