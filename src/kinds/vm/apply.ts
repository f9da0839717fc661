import type { DesiredVM } from '../../model/desired.js';
import { DISK_KEY, MANAGED_KEY, NULL_REF, type Ref, type VBDRecord, type VDIRecord, type VMRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { changedFields, desiredSpec, maybeDesiredSpec, removedConfigKeys, specDigestOf, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, CreateAbandonedError, NotReadyError, UnsupportedChangeError, wontFixItself } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { OwnershipError } from '../../apply/errors.js';
import { sortPending } from '../../apply/claim.js';
import { PENDING_KEY, assertOwned, isOwnedBy, markCreated, pendingName, writeMarks, writeSpecDigest } from '../../apply/ownership.js';
import { attachedDisks, claimDisks, convergeDisks, destroyDisk, diskSR, type DiskClaim, type DiskSpec } from './disks.js';
import { convergeAttachments } from './attachments.js';
import { convergePower, halt, whileHalted } from './power.js';
import { convergeVifs, type VifSpec } from './vifs.js';
import { mapKeysToWrite } from './settings.js';
import { ReadinessTimeout, waitForAddress } from './readiness.js';
import { CLOUDINIT_KEY } from './cloud-init.js';
import { ensureConfigDrive, removeConfigDrive, removeDetachedDrives } from './config-drive.js';
import { snapshotName } from '../../policy/snapshot.js';
import { prunePreChangeSnapshots } from '../../apply/pre-snapshots.js';
import { isXapiError, recordsByName, syncField, syncMapKeys, syncSet, tryRecord } from '../../apply/xapi.js';

/**
 * A VM's desired spec as apply receives it in `action.desired`: the manifest's spec, with
 * references possibly resolved by the planner to `{uuid}` (see RefLike).
 */
export type VmSpec = Omit<DesiredVM['spec'], 'template' | 'host' | 'appliance' | 'disks' | 'networks' | 'suspendSR'> & {
  /** Absent for a VM that exists and declares none; the planner never plans its create. */
  template?: RefLike;
  suspendSR?: RefLike;
  host?: RefLike;
  appliance?: RefLike;
  disks: DiskSpec[];
  networks: VifSpec[];
};

/** The spec fields convergeSettings writes. */
const SETTING_FIELDS = [
  'coresPerSocket', 'nestedVirtualization', 'videoRam', 'boot', 'cpuCap', 'cpuWeight', 'blockedOperations',
  'startDelay', 'shutdownDelay', 'xenstoreData', 'suspendSR', 'vtpm', 'cdrom',
];

/** Every field a full converge (create, adopt, finishing a crashed create) brings to the spec. */
const ALL_FIELDS = new Set([
  'nameLabel', 'description', 'vcpus', 'vcpusMax', 'memory', 'memoryMax', 'disks', 'networks',
  'host', 'haRestartPriority', 'autoPowerOn', 'appliance', 'tags', 'otherConfig', 'powerState', 'attachments',
  'cloudInit', ...SETTING_FIELDS,
]);

/** XCP-ng's convention for "start this VM when its host boots". */
const AUTO_POWER_ON_KEY = 'auto_poweron';

async function vmRecord(ctx: ApplyContext, vm: Ref): Promise<VMRecord> {
  return ctx.caller.call<VMRecord>('VM.get_record', vm);
}

/**
 * Finds what a previous run of this create left behind: a VM marked for the address (finished or
 * not), or one carrying the pending name (cloned, not yet marked). Extra pending clones (only
 * possible if two applies raced) are destroyed, so the create never leaves a duplicate.
 */
async function findCreated(ctx: ApplyContext, address: string, spec: VmSpec): Promise<Ref | undefined> {
  const named = await recordsByName<VMRecord>(ctx.caller, 'VM', spec.nameLabel);
  const pending = await recordsByName<VMRecord>(ctx.caller, 'VM', pendingName(address));
  const candidates = [...named, ...pending].filter(([, r]) => !r.is_a_snapshot);
  const owned = candidates.filter(([, r]) => isOwnedBy(r.other_config, address, ctx.repo));
  // Another repository's or resource's object under our pending name, or two unmarked ones: a conflict.
  const { ours, unmarked } = sortPending('VM', address, ctx.repo, pending.filter(([, r]) => !r.is_a_snapshot), (r) => r.other_config);
  let keep: [Ref, VMRecord] | undefined = owned[0];
  if (!keep && unmarked[0]) {
    // The one window a clone cannot be marked in (VM.clone writes no other_config): a single
    // unmarked clone under this exact pending name is taken as this create's.
    keep = unmarked[0];
    await markCreated(ctx, 'VM', keep[0], address, { [PENDING_KEY]: 'create' });
    ctx.log.info({ address, vm: keep[0] }, 'found a clone left by an interrupted apply; finishing it');
  } else if (unmarked[0]) {
    throw new OwnershipError(address, `refusing to claim VM ${unmarked[0][0]} named ${pendingName(address)}: the resource's VM already exists and nothing proves xops made this one`, { object: `VM/${unmarked[0][0]}` });
  }
  // Only duplicates xops' own marks prove it made (marked pending for this resource) are destroyed.
  for (const [ref, r] of ours) {
    if (ref !== keep?.[0] && r.other_config[PENDING_KEY] !== undefined) {
      ctx.log.warn({ address, vm: ref }, 'destroying a duplicate pending clone xops marked');
      await destroyVm(ctx, ref, undefined);
    }
  }
  return keep?.[0];
}

/** Clones (or copies, when the disks must land on another SR) the template under the pending name. */
async function cloneTemplate(ctx: ApplyContext, address: string, spec: VmSpec): Promise<Ref> {
  // The planner refuses a create without a template; a saved plan edited by hand is caught here, before any write.
  if (spec.template === undefined) throw new ApplyError(address, 'spec.template is needed to create the VM');
  const template = await ctx.lookup.resolve('VM', spec.template, address);
  const templateDisks = await attachedDisks(ctx, template);
  let vm: Ref;
  const firstDisk = spec.disks[0];
  const wantSR = templateDisks.length > 0 && firstDisk ? await diskSR(ctx, address, firstDisk) : undefined;
  if (wantSR && templateDisks.some((d) => d.vdiRec.SR !== wantSR)) {
    vm = await ctx.caller.callAsync<Ref>('VM.copy', template, pendingName(address), wantSR);
  } else {
    vm = await ctx.caller.callAsync<Ref>('VM.clone', template, pendingName(address));
  }
  // A repeated clone (reply lost, call resent) may leave a second pending VM. It is not destroyed:
  // no mark proves xops made it. The next run reports it as a conflict for the operator to remove.
  for (const [other, r] of await recordsByName<VMRecord>(ctx.caller, 'VM', pendingName(address))) {
    if (other !== vm && !isOwnedBy(r.other_config, address, ctx.repo)) ctx.log.warn({ address, vm: other }, 'another unmarked VM carries the pending name; left in place');
  }
  // All marks in one call: a VM under the pending name is either unmarked or marked pending.
  await markCreated(ctx, 'VM', vm, address, { [PENDING_KEY]: 'create' });
  return vm;
}

/**
 * Rewrites the template's `disks` provisioning XML so that `VM.provision` creates the declared
 * disks (size, SR) instead of the template's defaults; entries beyond the declared disks are dropped.
 */
export function rewriteProvisionXml(xml: string, disks: readonly { size: number; srUuid: string }[]): string {
  let i = 0;
  const body = xml.replace(/<disk\b[^>]*\/>/g, (tag) => {
    const want = disks[i++];
    if (!want) return '';
    return tag
      .replace(/\bsize="[^"]*"/, `size="${want.size}"`)
      .replace(/\bsr="[^"]*"/, `sr="${want.srUuid}"`);
  });
  return body;
}

async function provision(ctx: ApplyContext, address: string, vm: Ref, rec: VMRecord, spec: VmSpec): Promise<void> {
  const xml = rec.other_config?.['disks'];
  if (xml !== undefined) {
    const disks = [];
    for (const d of spec.disks) {
      const sr = await diskSR(ctx, address, d);
      disks.push({ size: d.size, srUuid: await ctx.caller.call<string>('SR.get_uuid', sr) });
    }
    const rewritten = rewriteProvisionXml(xml, disks);
    // One call: removing the key then adding it back would leave, if killed between, a template with no disks to provision.
    if (rewritten !== xml) await ctx.caller.call('VM.set_other_config', vm, { ...rec.other_config, disks: rewritten });
  }
  await ctx.caller.callAsync('VM.provision', vm);
}

/** Memory and VCPUs, halting the VM only when XAPI cannot make the change live. */
async function convergeSizing(ctx: ApplyContext, vm: Ref, spec: VmSpec, fields: Set<string>): Promise<void> {
  const touches = ['memory', 'memoryMax', 'vcpus', 'vcpusMax'].some((f) => fields.has(f));
  if (!touches) return;
  const rec = await vmRecord(ctx, vm);
  const memory = spec.memory;
  const memoryMax = Math.max(spec.memoryMax ?? memory, memory);
  const vcpus = spec.vcpus;
  const vcpusMax = Math.max(spec.vcpusMax ?? vcpus, vcpus);
  const cur = {
    smin: Number(rec.memory_static_min),
    smax: Number(rec.memory_static_max),
    dmin: Number(rec.memory_dynamic_min),
    dmax: Number(rec.memory_dynamic_max),
    vmax: Number(rec.VCPUs_max),
    vstart: Number(rec.VCPUs_at_startup),
  };
  const memoryOk = cur.smax === memoryMax && cur.dmin === memory && cur.dmax === memory;
  const vcpuOk = cur.vmax === vcpusMax && cur.vstart === vcpus;
  if (memoryOk && vcpuOk) return;

  const running = rec.power_state !== 'Halted';
  const liveMemory = cur.smax === memoryMax;
  const liveVcpus = cur.vmax === vcpusMax;
  if (running && liveMemory && liveVcpus && rec.power_state === 'Running') {
    if (!memoryOk) await ctx.caller.callAsync('VM.set_memory_dynamic_range', vm, memory, memory);
    if (!vcpuOk) await ctx.caller.callAsync('VM.set_VCPUs_number_live', vm, vcpus);
    return;
  }
  await whileHalted(ctx.caller, vm, async () => {
    const now = await vmRecord(ctx, vm);
    const smin = Math.min(Number(now.memory_static_min), memory);
    if (!(Number(now.memory_static_max) === memoryMax && Number(now.memory_dynamic_min) === memory && Number(now.memory_dynamic_max) === memory)) {
      await ctx.caller.callAsync('VM.set_memory_limits', vm, smin, memoryMax, memory, memory);
    }
    // VCPUs_at_startup <= VCPUs_max must hold after every call: raise the max first, lower it last.
    const vmax = Number(now.VCPUs_max);
    if (vcpusMax > vmax) await ctx.caller.call('VM.set_VCPUs_max', vm, vcpusMax);
    if (Number(now.VCPUs_at_startup) !== vcpus) await ctx.caller.call('VM.set_VCPUs_at_startup', vm, vcpus);
    if (vcpusMax < vmax) await ctx.caller.call('VM.set_VCPUs_max', vm, vcpusMax);
  });
}

/**
 * Brings the listed spec fields of an existing VM to the desired values; every step reads before it
 * writes, so a repeated converge makes no calls beyond the reads.
 */
async function converge(ctx: ApplyContext, action: Action, vm: Ref, spec: VmSpec, fields: Set<string>, creating: boolean): Promise<void> {
  const address = action.address;
  let rec = await vmRecord(ctx, vm);
  if (rec.is_a_template) {
    await provision(ctx, address, vm, rec, spec);
    rec = await vmRecord(ctx, vm);
  }
  if (fields.has('description')) await syncField(ctx.caller, 'VM', vm, 'name_description', rec.name_description, spec.description ?? '');
  await convergeSizing(ctx, vm, spec, fields);
  if (fields.has('disks')) {
    await convergeDisks(ctx, address, action.name, vm, spec.disks, {
      claimUnmarked: creating,
      claims: diskClaimsOf(action),
      removeUndeclared: !creating && action.changes.some((c) => c.path.startsWith('spec.disks') && (c.to === undefined || c.to === null)),
    });
  }
  if (fields.has('attachments')) await convergeAttachments(ctx, address, vm, spec.attachments ?? []);
  if (fields.has('networks')) await convergeVifs(ctx, address, vm, spec.networks, creating);
  // Only a create writes the drive: cloud-init reads it once per instance (the planner says so for later edits).
  if (fields.has('cloudInit') && creating && spec.cloudInit) await ensureConfigDrive(ctx, address, action.name, spec.nameLabel, vm, spec.cloudInit);
  rec = await vmRecord(ctx, vm);
  if (fields.has('host')) {
    const host = spec.host === undefined ? NULL_REF : await ctx.lookup.resolve('Host', spec.host, address);
    await syncField(ctx.caller, 'VM', vm, 'affinity', rec.affinity, host);
  }
  if (fields.has('haRestartPriority')) {
    await syncField(ctx.caller, 'VM', vm, 'ha_restart_priority', rec.ha_restart_priority, spec.haRestartPriority ?? '');
  }
  if (fields.has('tags')) await syncSet(ctx.caller, 'VM', vm, 'tags', rec.tags, spec.tags ?? []);
  if (fields.has('otherConfig') || fields.has('autoPowerOn')) {
    const set: Record<string, string> = fields.has('otherConfig') ? { ...(spec.otherConfig ?? {}) } : {};
    const remove = fields.has('otherConfig') ? removedConfigKeys(action) : [];
    if (spec.autoPowerOn !== undefined) set[AUTO_POWER_ON_KEY] = String(spec.autoPowerOn);
    await syncMapKeys(ctx.caller, 'VM', vm, 'other_config', rec.other_config, set, remove);
  }
  await convergeSettings(ctx, address, vm, rec, spec, fields);
  if (fields.has('appliance')) {
    const appliance = spec.appliance === undefined ? NULL_REF : await ctx.lookup.tryResolve('VMAppliance', spec.appliance, address);
    // An appliance created later in the run adds its members itself.
    if (appliance !== undefined && rec.appliance !== appliance) await ctx.caller.callAsync('VM.set_appliance', vm, appliance);
  }
  if (fields.has('powerState')) {
    const host = spec.host !== undefined ? await ctx.lookup.tryResolve('Host', spec.host, address) : undefined;
    await convergePower(ctx.caller, vm, spec.powerState, host);
  }
}

/**
 * The settings table (settings.ts) and the fields beside it. VCPUs_params keys also reach a running
 * domain through VM.add_to_VCPUs_params_live; the rest XAPI reads at the next boot (the planner
 * halts the VM for those it labels reboot).
 */
async function convergeSettings(ctx: ApplyContext, address: string, vm: Ref, rec: VMRecord, spec: VmSpec, fields: Set<string>): Promise<void> {
  for (const [map, keys] of mapKeysToWrite(spec, fields)) {
    const current = rec[map] ?? {};
    await syncMapKeys(ctx.caller, 'VM', vm, map, current, keys);
    if (map === 'VCPUs_params' && rec.power_state === 'Running') {
      for (const [key, value] of Object.entries(keys)) {
        if (current[key] !== value) await ctx.caller.call('VM.add_to_VCPUs_params_live', vm, key, value);
      }
    }
  }
  if (fields.has('nestedVirtualization') && spec.nestedVirtualization !== undefined && rec.platform?.['exp-nested-hvm'] !== undefined) {
    // The old spelling would keep winning on hosts that still read it.
    await ctx.caller.call('VM.remove_from_platform', vm, 'exp-nested-hvm');
  }
  if (fields.has('blockedOperations') && spec.blockedOperations !== undefined) {
    const cur = rec.blocked_operations ?? {};
    const want = new Set(spec.blockedOperations);
    for (const op of Object.keys(cur)) if (!want.has(op)) await ctx.caller.call('VM.remove_from_blocked_operations', vm, op);
    for (const op of want) if (!(op in cur)) await ctx.caller.call('VM.add_to_blocked_operations', vm, op, 'true');
  }
  if (fields.has('xenstoreData') && spec.xenstoreData !== undefined) {
    await syncMapKeys(ctx.caller, 'VM', vm, 'xenstore_data', rec.xenstore_data, spec.xenstoreData);
  }
  if (fields.has('startDelay')) await syncField(ctx.caller, 'VM', vm, 'start_delay', Number(rec.start_delay), spec.startDelay);
  if (fields.has('shutdownDelay')) await syncField(ctx.caller, 'VM', vm, 'shutdown_delay', Number(rec.shutdown_delay), spec.shutdownDelay);
  if (fields.has('cdrom') && spec.cdrom !== undefined) await convergeCdrom(ctx, address, vm, spec.cdrom.iso);
  if (fields.has('vtpm') && spec.vtpm !== undefined) {
    const vtpms = await ctx.caller.call<Ref[]>('VM.get_VTPMs', vm);
    if (spec.vtpm && vtpms.length === 0) await ctx.caller.callAsync('VTPM.create', vm, false);
    if (!spec.vtpm) for (const t of vtpms) await ctx.caller.callAsync('VTPM.destroy', t);
  }
  if (fields.has('suspendSR') && spec.suspendSR !== undefined) {
    const sr = await ctx.lookup.resolve('SR', spec.suspendSR, address);
    await syncField(ctx.caller, 'VM', vm, 'suspend_SR', rec.suspend_SR, sr);
  }
}

/** The VDI named `name` on an ISO SR (the planner checked there is exactly one). */
async function isoVdi(ctx: ApplyContext, address: string, name: string): Promise<Ref> {
  for (const [ref, vdi] of await recordsByName<VDIRecord>(ctx.caller, 'VDI', name)) {
    if ((await ctx.caller.call<string>('SR.get_content_type', vdi.SR)) === 'iso') return ref;
  }
  throw new ApplyError(address, `no ISO named '${name}' on an ISO SR`);
}

/** The VM's CD drive holding `iso` (undefined: empty): created at userdevice 3 when missing, else the disc swapped. */
async function convergeCdrom(ctx: ApplyContext, address: string, vm: Ref, iso: string | undefined): Promise<void> {
  const want = iso === undefined ? NULL_REF : await isoVdi(ctx, address, iso);
  let drive: [Ref, VBDRecord] | undefined;
  const used = new Set<string>();
  for (const ref of await ctx.caller.call<Ref[]>('VM.get_VBDs', vm)) {
    const vbd = await ctx.caller.call<VBDRecord>('VBD.get_record', ref);
    used.add(vbd.userdevice);
    if (vbd.type === 'CD' && !drive) drive = [ref, vbd];
  }
  if (!drive) {
    await ctx.caller.call('VBD.create', {
      VM: vm, VDI: want, userdevice: used.has('3') ? 'autodetect' : '3', bootable: true, mode: 'RO', type: 'CD',
      empty: want === NULL_REF, unpluggable: true, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
    });
    return;
  }
  const [ref, vbd] = drive;
  const have = vbd.empty ? NULL_REF : vbd.VDI;
  if (have === want) return;
  if (have !== NULL_REF) await ctx.caller.callAsync('VBD.eject', ref);
  if (want !== NULL_REF) await ctx.caller.callAsync('VBD.insert', ref, want);
}

/**
 * `details` of a create the planner placed for an anti-affinity group: the host it starts on (with
 * VM.start_on, as XAPI would rank it once the VM has joined) and the group.
 */
export interface VMCreatePlacement {
  startOn: { uuid: string; name: string };
  group: string;
}

/** The last steps of a create: the real name, the pending key gone, the applied spec's digest. */
async function finishCreate(ctx: ApplyContext, action: Action, vm: Ref, spec: VmSpec): Promise<void> {
  const rec = await vmRecord(ctx, vm);
  await syncField(ctx.caller, 'VM', vm, 'name_label', rec.name_label, spec.nameLabel);
  await syncMapKeys(ctx.caller, 'VM', vm, 'other_config', rec.other_config, {}, [PENDING_KEY]);
  await writeSpecDigest(ctx, 'VM', vm, rec.other_config, specDigestOf(action));
}

async function create(ctx: ApplyContext, action: Action): Promise<void> {
  const spec = desiredSpec<VmSpec>(action);
  const vm = (await findCreated(ctx, action.address, spec)) ?? (await cloneTemplate(ctx, action.address, spec));
  try {
    // Power last, after every other field, so a started VM already has its disks and networks.
    const fields = new Set(ALL_FIELDS);
    fields.delete('powerState');
    await converge(ctx, action, vm, spec, fields, true);
    await startPlaced(ctx, action, vm, spec);
    await finishCreate(ctx, action, vm, spec);
  } catch (err) {
    // An interrupted create (crash, lost connection) is finished by the next run; one the pool
    // refuses for good (no memory, no space, a value it rejects) would only fail again: undo it.
    if (!wontFixItself(err)) throw err;
    await abandonCreate(ctx, action.address, vm, err);
  }
  // Outside the undo: a guest slow to report is no reason to destroy the VM made for it.
  await awaitReadiness(ctx, action.address, vm, spec);
}

/**
 * The create's power step. A VM the planner placed for its anti-affinity group starts on that host;
 * when the host cannot take it any more (the pool changed since the plan), XAPI picks one, as it would
 * for any VM, and the group's spread moves it later.
 */
async function startPlaced(ctx: ApplyContext, action: Action, vm: Ref, spec: VmSpec): Promise<void> {
  const placed = action.details?.['startOn'] as VMCreatePlacement['startOn'] | undefined;
  if (placed && spec.host === undefined && spec.powerState === 'running') {
    const host = await ctx.lookup.tryResolve('Host', { uuid: placed.uuid }, action.address);
    if (host !== undefined && (await ctx.caller.call<string>('VM.get_power_state', vm)) === 'Halted') {
      try {
        await ctx.caller.callAsync('VM.start_on', vm, host, false, false);
      } catch (err) {
        if (!isXapiError(err, 'HOST_NOT_ENOUGH_FREE_MEMORY') && !isXapiError(err, 'HOST_DISABLED') && !isXapiError(err, 'VM_REQUIRES_SR') && !isXapiError(err, 'VM_REQUIRES_NETWORK')) throw err;
        ctx.log.warn({ address: action.address, host: placed.name, err: err instanceof Error ? err.message : String(err) }, 'the planned host cannot take the VM any more: XAPI chooses');
      }
    }
  }
  await converge(ctx, action, vm, spec, new Set(['powerState']), true);
}

/**
 * `readiness.waitForIP` of a VM that should now run: waits for its guest to report an address in the
 * range; fails the action (the VM stays as it is) when none comes within the timeout.
 */
async function awaitReadiness(ctx: ApplyContext, address: string, vm: Ref, spec: VmSpec | undefined): Promise<void> {
  if (!spec?.readiness || spec.powerState !== 'running') return;
  try {
    const ip = await waitForAddress(ctx.caller, vm, spec.readiness.waitForIP, spec.readiness.timeout);
    ctx.log.info({ address, ip }, 'the guest reported its address');
  } catch (err) {
    if (err instanceof ReadinessTimeout) throw new NotReadyError(address, `not ready: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Removes a create that cannot succeed: the VM, while still unfinished (pending name or key), with
 * the disks made for it; then fails the action with CreateAbandonedError saying why.
 */
async function abandonCreate(ctx: ApplyContext, address: string, vm: Ref, err: unknown): Promise<never> {
  const why = err instanceof Error ? err.message : String(err);
  const rec = await tryRecord<VMRecord>(ctx.caller, 'VM', vm);
  const unfinished = rec && isOwnedBy(rec.other_config, address, ctx.repo) && (rec.other_config[PENDING_KEY] !== undefined || rec.name_label === pendingName(address));
  if (!unfinished) throw err;
  ctx.log.warn({ address, vm, err: why }, 'create cannot succeed: removing the half-built VM');
  // Every disk only this VM uses came from the clone, VM.provision or this create: all go with it.
  await destroyVm(ctx, vm, undefined);
  await removeDetachedDrives(ctx, address);
  throw new CreateAbandonedError(address, `create failed and was undone (the half-built VM and its new disks removed): ${why}`, { cause: err });
}

/** The VM an update/delete/power action is about: its object in the plan, else found by mark or name. */
async function targetVm(ctx: ApplyContext, action: Action): Promise<Ref | undefined> {
  const planned = action.objects.find((o) => o.cls === 'VM');
  if (planned) {
    const rec = await tryRecord<VMRecord>(ctx.caller, 'VM', planned.ref);
    if (rec) return planned.ref;
  }
  const spec = maybeDesiredSpec<VmSpec>(action);
  const names = [spec?.nameLabel, pendingName(action.address)].filter((n): n is string => n !== undefined);
  for (const name of names) {
    const found = (await recordsByName<VMRecord>(ctx.caller, 'VM', name)).find(([, r]) => isOwnedBy(r.other_config, action.address, ctx.repo));
    if (found) return found[0];
  }
  return undefined;
}

async function update(ctx: ApplyContext, action: Action): Promise<void> {
  const vm = await targetVm(ctx, action);
  if (!vm) throw new ApplyError(action.address, 'the VM to update does not exist (deleted since the plan was made?)');
  const oc = await assertOwned(ctx, 'VM', vm, action.address);
  const spec = desiredSpec<VmSpec>(action);
  if (oc?.[PENDING_KEY] !== undefined) {
    // A create that crashed after marking: finish it whole rather than patch a half-made VM.
    ctx.log.info({ address: action.address, vm }, 'finishing an interrupted create');
    return create(ctx, { ...action, operation: 'create' });
  }
  const fields = changedFields(action);
  for (const f of fields) {
    if (!ALL_FIELDS.has(f)) throw new UnsupportedChangeError(action.address, `apply does not know how to change spec.${f} of a VM`);
  }
  const power = fields.delete('powerState');
  // The planner sets `restart` when a change needs the VM halted (a disk whose SR cannot grow it
  // online, memory above static_max...): halt once, change everything, bring it back.
  const restart = action.details?.['restart'] === true;
  if (restart) await whileHalted(ctx.caller, vm, () => converge(ctx, action, vm, spec, fields, false));
  else await converge(ctx, action, vm, spec, fields, false);
  // A retry of a restart whose start failed finds the VM halted, so whileHalted does not bring it back: the
  // manifest still wants it running.
  if (power || (restart && spec.powerState === 'running')) await converge(ctx, action, vm, spec, new Set(['powerState']), false);
  if (fields.has('nameLabel')) {
    const rec = await vmRecord(ctx, vm);
    await syncField(ctx.caller, 'VM', vm, 'name_label', rec.name_label, spec.nameLabel);
  }
  await writeSpecDigest(ctx, 'VM', vm, oc, specDigestOf(action));
  // A restarted guest boots again: wait for it as after a start.
  if (restart || power) await awaitReadiness(ctx, action.address, vm, spec);
}

/** Destroys a VM with the disks xops made for it; disks without its mark (attached by hand) are kept. */
async function destroyVm(ctx: ApplyContext, vm: Ref, address: string | undefined): Promise<void> {
  const rec = await tryRecord<VMRecord>(ctx.caller, 'VM', vm);
  if (!rec) return;
  await halt(ctx.caller, vm);
  for (const d of await attachedDisks(ctx, vm)) {
    const made = d.vdiRec.other_config[DISK_KEY] !== undefined || d.vdiRec.other_config[CLOUDINIT_KEY] !== undefined;
    const ours = address === undefined ? d.vdiRec.VBDs.length <= 1 : isOwnedBy(d.vdiRec.other_config, address, ctx.repo) && made;
    if (ours) await destroyDisk(ctx, d);
    else ctx.log.warn({ vm, vdi: d.vdi }, 'keeping a disk xops did not create');
  }
  try {
    await ctx.caller.callAsync('VM.destroy', vm);
  } catch (err) {
    if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
  }
}

/** Removes one disk the manifest no longer declares (`delete:VM/<name>:disk/<disk>`), only if it carries the VM's mark. */
async function removeDisk(ctx: ApplyContext, action: Action, disk: string): Promise<void> {
  const vdi = action.objects.find((o) => o.cls === 'VDI');
  const vbd = action.objects.find((o) => o.cls === 'VBD');
  if (!vdi) throw new UnsupportedChangeError(action.address, `disk delete ${action.id} names no VDI`);
  const oc = await assertOwned(ctx, 'VDI', vdi.ref, action.address);
  if (!oc) return; // already gone
  if (oc[DISK_KEY] !== disk) throw new ApplyError(action.address, `VDI ${vdi.uuid} is not disk '${disk}' (its mark says '${oc[DISK_KEY] ?? ''}')`);
  await destroyDisk(ctx, { vbd: vbd?.ref, vdi: vdi.ref });
}

async function remove(ctx: ApplyContext, action: Action): Promise<void> {
  const disk = action.details?.['disk'];
  if (typeof disk === 'string') return removeDisk(ctx, action, disk);
  if (action.details?.['configDrive'] !== undefined) return removeConfigDrive(ctx, action);
  const vm = await targetVm(ctx, action);
  if (!vm) return; // already gone
  const oc = await assertOwned(ctx, 'VM', vm, action.address);
  if (!oc) return;
  await destroyVm(ctx, vm, action.address);
}

async function power(ctx: ApplyContext, action: Action): Promise<void> {
  const vm = await targetVm(ctx, action);
  if (!vm) throw new ApplyError(action.address, 'the VM does not exist');
  await assertOwned(ctx, 'VM', vm, action.address);
  const spec = maybeDesiredSpec<VmSpec>(action);
  const change = action.changes.find((c) => c.path === 'spec.powerState');
  const desired = (change?.to ?? spec?.powerState) as VmSpec['powerState'] | undefined;
  if (!desired) throw new UnsupportedChangeError(action.address, 'power action names no desired power state');
  const host = spec?.host !== undefined ? await ctx.lookup.tryResolve('Host', spec.host, action.address) : undefined;
  await convergePower(ctx.caller, vm, desired, host);
  await writeSpecDigest(ctx, 'VM', vm, (await vmRecord(ctx, vm)).other_config, specDigestOf(action));
  if (desired === 'running') await awaitReadiness(ctx, action.address, vm, spec);
}

async function migrate(ctx: ApplyContext, action: Action): Promise<void> {
  const vm = await targetVm(ctx, action);
  if (!vm) throw new ApplyError(action.address, 'the VM does not exist');
  await assertOwned(ctx, 'VM', vm, action.address);
  const spec = maybeDesiredSpec<VmSpec>(action);
  const hostUuid = action.details?.['host'];
  const to = (typeof hostUuid === 'string' ? { uuid: hostUuid } : spec?.host) as RefLike | undefined;
  if (to === undefined) throw new UnsupportedChangeError(action.address, 'migrate action names no host');
  const host = await ctx.lookup.resolve('Host', to, action.address);
  const rec = await vmRecord(ctx, vm);
  if (rec.power_state === 'Running' && rec.resident_on !== host) await ctx.caller.callAsync('VM.pool_migrate', vm, host, { live: 'true' });
}

/**
 * Takes over an existing unmanaged VM: writes the mark on it and `xops.disk` on the declared disks
 * the planner matched (by `<vm>-<disk>` name or by position, `details.disks.claim`). Its VIFs are
 * matched by device number, and marked by an update that changes them.
 */
async function adopt(ctx: ApplyContext, action: Action): Promise<void> {
  const vm = action.objects.find((o) => o.cls === 'VM')?.ref;
  if (!vm) throw new UnsupportedChangeError(action.address, 'adopt action names no VM object');
  const rec = await vmRecord(ctx, vm);
  const mark = rec.other_config?.[MANAGED_KEY];
  if (mark !== undefined && !isOwnedBy(rec.other_config, action.address, ctx.repo)) {
    throw new ApplyError(action.address, `refusing to adopt VM ${rec.name_label}: it is already marked ${mark}`);
  }
  await writeMarks(ctx, 'VM', vm, action.address, rec.other_config);
  await claimDisks(ctx, action.address, vm, diskClaimsOf(action));
}

/** `details.disks.claim` of an update or adopt: the disks the planner matched without their mark. */
function diskClaimsOf(action: Action): DiskClaim[] {
  const claim = (action.details?.['disks'] as { claim?: unknown } | undefined)?.claim;
  if (!Array.isArray(claim)) return [];
  return claim.filter((c): c is DiskClaim => typeof c?.name === 'string' && typeof c?.vdi === 'string');
}

async function snapshot(ctx: ApplyContext, action: Action): Promise<void> {
  const vm = action.objects.find((o) => o.cls === 'VM')?.ref;
  if (!vm || !(await tryRecord(ctx.caller, 'VM', vm))) return;
  const label = snapshotName(action, new Date());
  await ctx.caller.callAsync('VM.snapshot', vm, label);
  if (action.snapshotRetain !== undefined) await prunePreChangeSnapshots(ctx.caller, vm, action.snapshotRetain);
}

/** Applies one VM action: create (clone + provision, crash-safe), update, replace, delete, power, migrate, adopt. */
export const applyVM: Applier = async (action, ctx) => {
  if (action.snapshotBefore) await snapshot(ctx, action);
  switch (action.operation) {
    case 'create':
      return create(ctx, action);
    case 'update':
      return update(ctx, action);
    case 'replace':
      await remove(ctx, action);
      return create(ctx, { ...action, objects: [] });
    case 'delete':
      return remove(ctx, action);
    case 'power':
      return power(ctx, action);
    case 'migrate':
      return migrate(ctx, action);
    case 'adopt':
      return adopt(ctx, action);
  }
};
