import type { DesiredSR } from '../../model/desired.js';
import type { PBDRecord, Ref, SRRecord } from '../../model/observed.js';
import type { Action, FieldChange, ObjectRef } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { read } from '../../plan/context.js';
import { compareField, compareTags, createChanges, makeAction, objectRef, updateReason } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import { resolveRef } from '../../plan/refs.js';
import { compareDeviceConfig, isSecret } from './compare.js';
import { secretKeyFor } from './secret-keys.js';
import { credentialId } from '../../secrets/changes.js';
import { markOf } from '../../plan/ownership-marks.js';
import { orphanName, pruneAllowed, wouldPrune } from '../../plan/prune.js';

/** `details` of an SR replace: the PBDs apply unplugs and re-creates, and the running VMs that use the SR. */
export interface SRReplaceDetails {
  recreate: 'pbds';
  sr: string;
  pbds: string[];
  /** Uuids of running VMs with disks on the SR: PBD.unplug is refused (VDI_IN_USE) until they are halted. */
  runningVMs: string[];
}

function runningVMsOn(ctx: PlanContext, sr: SRRecord): string[] {
  const out = new Set<string>();
  for (const vdiRef of sr.VDIs) {
    for (const vbdRef of ctx.index.get('VDI', vdiRef)?.VBDs ?? []) {
      const vm = ctx.index.get('VM', ctx.index.get('VBD', vbdRef)?.VM ?? '');
      if (vm && vm.power_state !== 'Halted') out.add(vm.uuid);
    }
  }
  return [...out];
}

/** Why a changed secret-backed credential costs nothing now, and when it takes effect. */
const CREDENTIAL_REASON = "credential changed: apply sets the new value on the SR's XAPI secrets (secret.set_value); " +
  'the storage driver reads it when a PBD is next plugged, so an attached SR keeps its current session until then';

/**
 * The declared credentials whose value changed since apply recorded their digest (the plan options'
 * `changedCredentials`; the value is never known here). One the SR's driver reads from a XAPI secret that
 * every PBD names is changed in place (`changes`, no disruption); any other is changed by
 * re-creating the PBDs (`replace`, downtime). Returns how many went each way.
 */
function credentialChanges(ctx: PlanContext, address: string, sr: DesiredSR, pbds: [Ref, PBDRecord][], changes: FieldChange[], replace: FieldChange[], pbdReason: string): { inPlace: number; replaced: number } {
  let inPlace = 0;
  let replaced = 0;
  for (const [key, value] of Object.entries(sr.spec.deviceConfig)) {
    const path = `spec.deviceConfig.${key}`;
    if (!isSecret(value) || !ctx.options.changedCredentials?.has(credentialId(address, path))) continue;
    if (replace.some((c) => c.path === path)) continue;
    const secretKey = secretKeyFor(sr.spec.type, key);
    const change = { path, from: '(secret)', to: '(credential changed)' };
    if (secretKey !== undefined && pbds.length > 0 && pbds.every(([, p]) => secretKey in (p.device_config ?? {}))) {
      changes.push({ ...change, disruption: 'none' });
      inPlace++;
    } else {
      replace.push({ ...change, disruption: 'downtime', reason: `credential changed: ${pbdReason}` });
      replaced++;
    }
  }
  return { inPlace, replaced };
}

/**
 * Plans one SR manifest. A changed device config or sharing re-creates the SR's PBDs (the data stays;
 * the SR is detached meanwhile: downtime). A changed type, content type or owning host would need a
 * new SR, which loses data: refused, never planned.
 */
export function planSR(ctx: PlanContext, sr: DesiredSR): void {
  const address = `SR/${sr.meta.name}`;
  const owner = ctx.owners.get(address);
  if (!owner || owner.state === 'conflict') return;
  const needs: string[] = [];
  const host = sr.spec.host ? resolveRef(ctx, sr, 'spec.host', sr.spec.host, { cls: 'host', kind: 'Host' }, needs) : undefined;
  const desired = { ...sr.spec, host };
  if (owner.state === 'absent') {
    ctx.actions.push(makeAction({
      operation: 'create', resource: sr, changes: createChanges(sr.spec), desired, needs,
      reason: `new ${sr.spec.shared ? 'shared ' : ''}${sr.spec.type} SR`,
    }));
    return;
  }
  const ref = owner.ref as Ref;
  const rec = owner.record as SRRecord;
  const self = objectRef('SR', ref, rec.uuid);
  const drift = owner.mark.spec === specDigest(sr);
  if (owner.state === 'adopt') {
    ctx.actions.push(makeAction({
      operation: 'adopt', resource: sr, objects: [self], desired,
      reason: `takes ownership of the existing SR '${rec.name_label}' (writes xops' mark)`,
    }));
  }
  const pbds: [Ref, PBDRecord][] = [];
  for (const pbdRef of rec.PBDs) {
    const pbd = read(ctx, 'PBD', pbdRef);
    if (pbd) pbds.push([pbdRef, pbd]);
  }
  const refuse = (path: string, from: unknown, to: unknown, reason: string) => {
    if (from !== to) ctx.refused.push({ address, path, from, to, reason });
  };
  refuse('spec.type', rec.type, sr.spec.type, 'an SR cannot change type: that needs a new SR, and destroying this one loses its data');
  refuse('spec.contentType', rec.content_type, sr.spec.contentType, 'an SR cannot change content type: that needs a new SR, and destroying this one loses its data');
  if (host?.uuid && !sr.spec.shared) {
    const current = pbds.map(([, p]) => ctx.index.get('host', p.host)?.uuid).find(Boolean);
    if (current && current !== host.uuid) {
      refuse('spec.host', ctx.index.byUuid('host', current)?.[1].name_label, sr.spec.host!.name,
        'a local SR cannot move to another host: its data lives on the current host');
    }
  }

  const changes: FieldChange[] = [];
  compareField(changes, 'spec.nameLabel', rec.name_label, sr.spec.nameLabel);
  if (sr.spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, sr.spec.description);
  compareTags(ctx, sr, changes, rec.tags, sr.spec.tags);

  const replace: FieldChange[] = [];
  const pbdReason = 'the SR\'s PBDs are unplugged and re-created with the new configuration; the SR is detached meanwhile';
  compareField(replace, 'spec.shared', rec.shared, sr.spec.shared, 'downtime', pbdReason);
  compareDeviceConfig(replace, pbds[0]?.[1].device_config, sr.spec.deviceConfig, pbdReason, (key) => secretKeyFor(sr.spec.type, key));
  const rotated = credentialChanges(ctx, address, sr, pbds, changes, replace, pbdReason);

  if (changes.length > 0) {
    ctx.actions.push(makeAction({
      // A new secret value is the manifest's change (its secret source), not drift in the pool.
      operation: 'update', resource: sr, changes, objects: [self], desired, drift: drift && rotated.inPlace < changes.length, needs,
      reason: rotated.inPlace ? (rotated.inPlace === changes.length ? CREDENTIAL_REASON : `SR settings are changed live; ${CREDENTIAL_REASON}`) : 'SR settings are changed live',
    }));
  }
  if (replace.length > 0) {
    const objects: ObjectRef[] = [self, ...pbds.map(([r, p]) => objectRef('PBD', r, p.uuid))];
    const runningVMs = runningVMsOn(ctx, rec);
    ctx.actions.push(makeAction({
      operation: 'replace', resource: sr, detail: 'pbds', changes: replace, objects, desired, drift: drift && rotated.replaced < replace.length, needs,
      reason: runningVMs.length > 0
        ? `${updateReason(replace, pbdReason)}; ${runningVMs.length} running VM(s) with disks on it must be halted first`
        : updateReason(replace, pbdReason),
      details: { recreate: 'pbds', sr: rec.uuid, pbds: pbds.map(([, p]) => p.uuid), runningVMs } satisfies SRReplaceDetails,
    }));
  }
}

/** Managed SRs with no manifest: deleted only when prune is on; that destroys every VDI on them. */
export function pruneSRs(ctx: PlanContext): void {
  for (const [ref, rec] of ctx.observed.records.SR) {
    const mark = markOf(rec);
    const name = orphanName(ctx, 'SR', mark);
    if (name === undefined) continue;
    read(ctx, 'SR', ref);
    if (!pruneAllowed(ctx, 'SR', name)) {
      wouldPrune(ctx, mark.address!, `SR '${rec.name_label}' (${rec.uuid}, ${rec.VDIs.length} VDI(s))`);
      continue;
    }
    const pbds = rec.PBDs.flatMap((p) => {
      const pbd = read(ctx, 'PBD', p);
      return pbd ? [objectRef('PBD', p, pbd.uuid)] : [];
    });
    ctx.actions.push(makeAction({
      operation: 'delete', resource: { kind: 'SR', meta: { name } }, disruption: 'destructive',
      reason: `the SR is no longer declared: destroying it loses the data of its ${rec.VDIs.length} VDI(s)`,
      objects: [objectRef('SR', ref, rec.uuid), ...pbds],
      details: { sr: rec.uuid, runningVMs: runningVMsOn(ctx, rec) },
    }));
  }
}

/** Uuids of the VMs with a disk on the SR a delete action removes: it waits for their actions. */
export function vmsOnSR(ctx: PlanContext, action: Action): Set<string> {
  const users = new Set<string>();
  const main = action.objects[0];
  if (!main || main.cls !== 'SR') return users;
  for (const vdi of ctx.index.get('SR', main.ref)?.VDIs ?? []) {
    for (const vbd of ctx.index.get('VDI', vdi)?.VBDs ?? []) {
      const vm = ctx.index.get('VM', ctx.index.get('VBD', vbd)?.VM ?? '');
      if (vm) users.add(vm.uuid);
    }
  }
  return users;
}
