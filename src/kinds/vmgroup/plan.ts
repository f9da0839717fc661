import { diffMembers, memberJoins, namedOrSelected, type SelectedMember } from '../../plan/members.js';
import type { DesiredVMGroup } from '../../model/desired.js';
import type { Ref, VMGroupRecord, VMRecord } from '../../model/observed.js';
import type { FieldChange, ObjectRef } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { addressOfResource } from '../../plan/context.js';
import { compareField, createChanges, makeAction, objectRef } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import { prunablePoolKept } from '../../plan/prune.js';
import { resolveRef, type ResolvedReference } from '../../plan/refs.js';
import { poolMarkKeys } from '../../plan/ownership-marks.js';
import { groupMarksOf } from './marks.js';
import { planSpread, type Spread } from './placement.js';

/** `details` of a group action: mark keys, VMs leaving, and (spread) the planned live migrations. */
export interface GroupDetails {
  markKeys?: ReturnType<typeof poolMarkKeys>;
  removeMembers: string[];
  spread?: Spread[];
}

/** XAPI's spelling of a placement. */
export const XAPI_PLACEMENT = { 'anti-affinity': 'anti_affinity', normal: 'normal' } as const;

function membersOf(ctx: PlanContext, doc: DesiredVMGroup): SelectedMember[] {
  return namedOrSelected(doc.spec.vms, doc.spec.selector?.labels, ctx.desired.vms);
}

/**
 * Plans one VMGroup: the VM_group and each member's `groups` (metadata, disruption none). A placement change
 * replaces the group (XAPI has no setter for it). For anti-affinity, members sharing a host while another
 * enabled host runs none are drift, healed by live migration (disruption none).
 */
export function planGroup(ctx: PlanContext, doc: DesiredVMGroup): void {
  const address = addressOfResource(doc);
  const owner = ctx.owners.get(address);
  if (!owner || owner.state === 'conflict') return;
  const needs: string[] = [];
  const members = membersOf(ctx, doc).map((m) => resolveRef(ctx, doc, m.path, m.ref, { cls: 'VM', kind: 'VM' }, needs));
  if (ctx.failed.has(address)) return;
  const desired = { ...doc.spec, vms: members as ResolvedReference[], selector: undefined };
  const createAction = (operation: 'create' | 'replace', objects: ObjectRef[] = []) => makeAction({
    operation, resource: doc, needs, desired, objects,
    changes: createChanges({ ...doc.spec, vms: undefined, selector: undefined }).concat(desired.vms.map(memberJoins)),
    reason: `${operation === 'create' ? 'new' : 'recreated (XAPI cannot change a placement)'} ${doc.spec.placement} group of ${desired.vms.length} VM(s)${doc.spec.placement === 'anti-affinity' ? '; members that share a host once joined move live to hosts running none of the group' : ''}`,
    details: { removeMembers: [] } satisfies GroupDetails,
  });
  if (owner.state === 'absent') {
    ctx.actions.push(createAction('create'));
    return;
  }
  const ref = owner.ref as Ref;
  const rec = owner.record as VMGroupRecord;
  const self = objectRef('VM_group', ref, rec.uuid);
  const markKeys = poolMarkKeys('VM_group', rec.uuid);
  if (owner.state === 'adopt') {
    ctx.actions.push(makeAction({
      operation: 'adopt', resource: doc, objects: [self], desired, details: { markKeys, removeMembers: [] } satisfies GroupDetails,
      reason: `takes ownership of the existing VM group '${rec.name_label}' (writes xops' mark in the pool's other_config)`,
    }));
  }
  if (rec.placement !== XAPI_PLACEMENT[doc.spec.placement]) {
    ctx.actions.push(createAction('replace', [self]));
    return;
  }
  const changes: FieldChange[] = [];
  const objects: ObjectRef[] = [self];
  compareField(changes, 'spec.nameLabel', rec.name_label, doc.spec.nameLabel);
  if (doc.spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, doc.spec.description);
  const inGroup = (vm: VMRecord) => ((vm['groups'] as Ref[] | undefined) ?? []).includes(ref);
  const { kept, removeMembers, ...membership } = diffMembers(ctx, desired.vms, rec.VMs, inGroup, 'the VM leaves the group; it keeps running where it is');
  changes.push(...membership.changes);
  objects.push(...membership.objects);
  const drift = owner.mark.spec === specDigest(doc);
  if (changes.length > 0) {
    ctx.actions.push(makeAction({
      operation: 'update', resource: doc, changes, objects, desired, needs, drift,
      reason: `group membership is metadata, changed live${doc.spec.placement === 'anti-affinity' ? '; joining members that share a host move live to hosts running none of the group' : ''}`, details: { markKeys, removeMembers } satisfies GroupDetails,
    }));
  }
  if (doc.spec.placement !== 'anti-affinity') return;
  // Only VMs already in the group count: new members are spread by the next plan, once they have joined.
  const joined = [...kept.values()].filter(([, vm]) => inGroup(vm));
  const spread = planSpread(ctx, joined);
  if (spread.length === 0) return;
  ctx.actions.push(makeAction({
    operation: 'update', resource: doc, detail: 'spread', drift: true, objects: [self, ...joined.map(([r, vm]) => objectRef('VM', r, vm.uuid))],
    changes: spread.map((s) => ({ path: `spec.placement.hosts[${s.vmName}]`, from: s.from, to: s.hostName, disruption: 'none', reason: 'live migration: the VM keeps running' })),
    reason: `anti-affinity: ${spread.length} member(s) share a host while another host runs none of the group; moved live`,
    details: { markKeys, removeMembers: [], spread } satisfies GroupDetails,
  }));
}

/** Managed groups with no manifest: destroyed (their VMs stay where they are) only when prune is on. */
export function pruneGroups(ctx: PlanContext): void {
  for (const { name, uuid, ref } of prunablePoolKept(ctx, 'VMGroup', 'VM_group', 'VM group')) {
    ctx.actions.push(makeAction({
      operation: 'delete', resource: { kind: 'VMGroup', meta: { name } }, disruption: 'none',
      reason: 'the group is no longer declared: it is destroyed, its VMs stay as they are',
      objects: [objectRef('VM_group', ref, uuid)],
      details: { markKeys: poolMarkKeys('VM_group', uuid), removeMembers: [] } satisfies GroupDetails,
    }));
  }
}
