import type { DesiredVM } from '../../model/desired.js';
import { DISK_KEY, MANAGED_KEY, NULL_REF, type Ref, type VMRecord } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import { changedFields, desiredSpec, maybeDesiredSpec, removedConfigKeys, specDigestOf, type Applier } from '../../apply/applier.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, CreateAbandonedError, UnsupportedChangeError, wontFixItself } from '../../apply/errors.js';
import type { RefLike } from '../../apply/lookup.js';
import { PENDING_KEY, assertOwned, isOwnedBy, markCreated, pendingName, writeMarks, writeSpecDigest } from '../../apply/ownership.js';
import { attachedDisks, claimDisks, convergeDisks, destroyDisk, diskSR, type DiskClaim, type DiskSpec } from './disks.js';
import { convergePower, halt, whileHalted } from './power.js';
import { convergeVifs, type VifSpec } from './vifs.js';
import { snapshotName } from '../../policy/snapshot.js';
import { prunePreChangeSnapshots } from '../../apply/pre-snapshots.js';
import { isXapiError, recordsByName, syncField, syncMapKeys, syncSet, tryRecord } from '../../apply/xapi.js';

/**
 * A VM's desired spec as apply receives it in `action.desired`: the manifest's spec, with
 * references possibly resolved by the planner to `{uuid}` (see RefLike).
 */
export type VmSpec = Omit<DesiredVM['spec'], 'template' | 'host' | 'appliance' | 'disks' | 'networks'> & {
  template: RefLike;
  host?: RefLike;
  appliance?: RefLike;
  disks: DiskSpec[];
  networks: VifSpec[];
};

/** Every field a full converge (create, adopt, finishing a crashed create) brings to the spec. */
const ALL_FIELDS = new Set([
  'nameLabel', 'description', 'vcpus', 'vcpusMax', 'memory', 'memoryMax', 'disks', 'networks',
  'host', 'haRestartPriority', 'autoPowerOn', 'appliance', 'tags', 'otherConfig', 'powerState',
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
  const unmarkedPending = pending.filter(([, r]) => !r.is_a_snapshot && !isOwnedBy(r.other_config, address, ctx.repo));
  let keep: [Ref, VMRecord] | undefined = owned[0];
  const extra = unmarkedPending.slice();
  if (!keep && extra.length > 0) {
    keep = extra.shift()!;
    await markCreated(ctx, 'VM', keep[0], address, { [PENDING_KEY]: 'create' });
    ctx.log.info({ address, vm: keep[0] }, 'found a clone left by an interrupted apply; finishing it');
  }
  for (const [ref] of extra) {
    ctx.log.warn({ address, vm: ref }, 'destroying a duplicate pending clone');
    await destroyVm(ctx, ref, undefined);
  }
  return keep?.[0];
}

/** Clones (or copies, when the disks must land on another SR) the template under the pending name. */
async function cloneTemplate(ctx: ApplyContext, address: string, spec: VmSpec): Promise<Ref> {
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
  // A repeated clone (reply lost, call resent) leaves a second pending VM: drop it.
  for (const [other, r] of await recordsByName<VMRecord>(ctx.caller, 'VM', pendingName(address))) {
    if (other !== vm && !isOwnedBy(r.other_config, address, ctx.repo)) await destroyVm(ctx, other, undefined);
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
  if (fields.has('networks')) await convergeVifs(ctx, address, vm, spec.networks, creating);
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
    await converge(ctx, action, vm, spec, new Set(['powerState']), true);
    await finishCreate(ctx, action, vm, spec);
  } catch (err) {
    // An interrupted create (crash, lost connection) is finished by the next run; one the pool
    // refuses for good (no memory, no space, a value it rejects) would only fail again: undo it.
    if (!wontFixItself(err)) throw err;
    await abandonCreate(ctx, action.address, vm, err);
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
  if (action.details?.['restart'] === true) await whileHalted(ctx.caller, vm, () => converge(ctx, action, vm, spec, fields, false));
  else await converge(ctx, action, vm, spec, fields, false);
  if (power) await converge(ctx, action, vm, spec, new Set(['powerState']), false);
  if (fields.has('nameLabel')) {
    const rec = await vmRecord(ctx, vm);
    await syncField(ctx.caller, 'VM', vm, 'name_label', rec.name_label, spec.nameLabel);
  }
  await writeSpecDigest(ctx, 'VM', vm, oc, specDigestOf(action));
}

/** Destroys a VM with the disks xops made for it; disks without its mark (attached by hand) are kept. */
async function destroyVm(ctx: ApplyContext, vm: Ref, address: string | undefined): Promise<void> {
  const rec = await tryRecord<VMRecord>(ctx.caller, 'VM', vm);
  if (!rec) return;
  await halt(ctx.caller, vm);
  for (const d of await attachedDisks(ctx, vm)) {
    const ours = address === undefined ? d.vdiRec.VBDs.length <= 1 : isOwnedBy(d.vdiRec.other_config, address, ctx.repo) && d.vdiRec.other_config[DISK_KEY] !== undefined;
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
