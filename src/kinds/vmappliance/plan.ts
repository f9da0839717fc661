import type { DesiredApplianceMember, DesiredVMAppliance } from '../../model/desired.js';
import type { Ref, VMApplianceRecord } from '../../model/observed.js';
import type { FieldChange, ObjectRef } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { addressOfResource, read } from '../../plan/context.js';
import { compareField, createChanges, makeAction, objectRef } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import { prunablePoolKept } from '../../plan/prune.js';
import { resolveRef, type ResolvedReference } from '../../plan/refs.js';
import { applianceMarkKeys } from '../../plan/ownership-marks.js';
import { applianceMarksOf } from './marks.js';

/** A member as apply receives it: the VM resolved (uuid absent when the VM is created in this plan). */
export interface ResolvedMember extends Omit<DesiredApplianceMember, 'vm'> {
  vm: ResolvedReference;
}

/** `details` of an appliance create/update: the pool other_config keys holding its marks, and members to drop. */
export interface ApplianceDetails {
  markKeys?: ReturnType<typeof applianceMarkKeys>;
  /** Uuids of VMs in the appliance that are no longer members (apply sets their appliance to NULL). */
  removeMembers: string[];
}

/**
 * The members: those the appliance lists, plus VMs whose manifest names this appliance in
 * `spec.appliance` (start order 0, no delays) — so either side may declare the membership.
 */
export function membersOf(ctx: PlanContext, app: DesiredVMAppliance): DesiredApplianceMember[] {
  const listed = new Set(app.spec.members.map((m) => m.vm.name));
  const extra = ctx.desired.vms
    .filter((v) => v.spec.appliance?.target === 'manifest' && v.spec.appliance.name === app.meta.name && !listed.has(v.meta.name))
    .map((v): DesiredApplianceMember => ({ vm: { name: v.meta.name, target: 'manifest', checked: true }, startOrder: 0, startDelay: 0, shutdownDelay: 0 }));
  return [...app.spec.members, ...extra];
}

/**
 * Plans one VMAppliance manifest. Membership and start order live on the member VMs (VM.appliance,
 * order, start_delay, shutdown_delay); every change is metadata (disruption none). Runs after the
 * VMs, so it depends on the creates of its new members.
 */
export function planAppliance(ctx: PlanContext, app: DesiredVMAppliance): void {
  const address = addressOfResource(app);
  const owner = ctx.owners.get(address);
  if (!owner || owner.state === 'conflict') return;
  const needs: string[] = [];
  const members = membersOf(ctx, app).map((m, i): ResolvedMember | undefined => {
    const vm = resolveRef(ctx, app, `spec.members[${i}].vm`, m.vm, { cls: 'VM', kind: 'VM' }, needs);
    return vm ? { ...m, vm } : undefined;
  });
  if (ctx.failed.has(address)) return;
  const desired = { ...app.spec, members: members as ResolvedMember[] };
  if (owner.state === 'absent') {
    ctx.actions.push(makeAction({
      operation: 'create', resource: app, changes: createChanges({ ...app.spec, members: undefined }).concat(
        desired.members.map((m) => ({ path: `spec.members[${m.vm.name}]`, from: undefined, to: { startOrder: m.startOrder, startDelay: m.startDelay, shutdownDelay: m.shutdownDelay }, disruption: 'none' as const }))),
      desired, needs, reason: `new appliance of ${desired.members.length} VM(s)`,
      details: { removeMembers: [] } satisfies ApplianceDetails,
    }));
    return;
  }
  const ref = owner.ref as Ref;
  const rec = owner.record as VMApplianceRecord;
  const self = objectRef('VM_appliance', ref, rec.uuid);
  const drift = owner.mark.spec === specDigest(app);
  const markKeys = applianceMarkKeys(rec.uuid);
  if (owner.state === 'adopt') {
    ctx.actions.push(makeAction({
      operation: 'adopt', resource: app, objects: [self], desired, details: { markKeys, removeMembers: [] } satisfies ApplianceDetails,
      reason: `takes ownership of the existing appliance '${rec.name_label}' (writes xops' mark in the pool's other_config)`,
    }));
  }
  const changes: FieldChange[] = [];
  const objects: ObjectRef[] = [self];
  compareField(changes, 'spec.nameLabel', rec.name_label, app.spec.nameLabel);
  if (app.spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, app.spec.description);
  const kept = new Set<string>();
  for (const m of desired.members) {
    const path = `spec.members[${m.vm.name}]`;
    const to = { startOrder: m.startOrder, startDelay: m.startDelay, shutdownDelay: m.shutdownDelay };
    const hit = m.vm.uuid ? ctx.index.byUuid('VM', m.vm.uuid) : undefined;
    if (!hit) {
      changes.push({ path, from: undefined, to, disruption: 'none' });
      continue;
    }
    const [vmRef, vm] = hit;
    kept.add(vm.uuid);
    read(ctx, 'VM', vmRef);
    objects.push(objectRef('VM', vmRef, vm.uuid));
    if (vm.appliance !== ref) {
      changes.push({ path, from: undefined, to, disruption: 'none' });
      continue;
    }
    compareField(changes, `${path}.startOrder`, vm.order, m.startOrder);
    compareField(changes, `${path}.startDelay`, vm.start_delay, m.startDelay);
    compareField(changes, `${path}.shutdownDelay`, vm.shutdown_delay, m.shutdownDelay);
  }
  const removeMembers: string[] = [];
  for (const vmRef of rec.VMs) {
    const vm = read(ctx, 'VM', vmRef);
    if (!vm || kept.has(vm.uuid)) continue;
    removeMembers.push(vm.uuid);
    objects.push(objectRef('VM', vmRef, vm.uuid));
    changes.push({ path: `spec.members[${vm.name_label}]`, from: { startOrder: vm.order }, to: undefined, disruption: 'none', reason: 'the VM leaves the appliance; it keeps running' });
  }
  if (changes.length === 0) return;
  ctx.actions.push(makeAction({
    operation: 'update', resource: app, changes, objects, desired, drift, needs,
    reason: 'appliance membership and start order are metadata, changed live',
    details: { markKeys, removeMembers } satisfies ApplianceDetails,
  }));
}

/** Managed appliances with no manifest: deleted (their VMs stay) only when prune is on. */
export function pruneAppliances(ctx: PlanContext): void {
  for (const { name, uuid, ref } of prunablePoolKept(ctx, 'VMAppliance', 'VM_appliance', 'appliance')) {
    ctx.actions.push(makeAction({
      operation: 'delete', resource: { kind: 'VMAppliance', meta: { name } }, disruption: 'none',
      reason: 'the appliance is no longer declared: the grouping is destroyed, its VMs stay as they are',
      objects: [objectRef('VM_appliance', ref, uuid)],
      details: { markKeys: applianceMarkKeys(uuid), removeMembers: [] } satisfies ApplianceDetails,
    }));
  }
}
