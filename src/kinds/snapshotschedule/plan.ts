import { diffMembers, memberJoins, namedOrSelected, type SelectedMember } from '../../plan/members.js';
import type { DesiredSnapshotSchedule } from '../../model/desired.js';
import { NULL_REF, type Ref, type VMSSRecord } from '../../model/observed.js';
import type { FieldChange, ObjectRef } from '../../model/plan.js';
import type { PlanContext } from '../../plan/context.js';
import { addressOfResource } from '../../plan/context.js';
import { compareField, createChanges, makeAction, objectRef } from '../../plan/changes.js';
import { specDigest } from '../../plan/identity.js';
import { prunablePoolKept } from '../../plan/prune.js';
import { resolveRef, type ResolvedReference } from '../../plan/refs.js';
import { poolMarkKeys } from '../../plan/ownership-marks.js';
import { scheduleMarksOf } from './marks.js';

/** `details` of a schedule action: the pool other_config keys holding its marks, and the VMs that leave it. */
export interface ScheduleDetails {
  markKeys?: ReturnType<typeof poolMarkKeys>;
  /** Uuids of VMs on this schedule that are no longer members (apply sets their snapshot_schedule to NULL). */
  removeMembers: string[];
}

const WEEK = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/**
 * The pool's schedule map in the form the manifest decodes to. XAPI keeps the values as given once
 * checked (xen-api `ocaml/xapi/map_check.ml`, `assert_value`: `days` in the order listed, `hour` as
 * written, `03` included), so `Friday,Monday` and `Monday,Friday` are the same schedule: days in week
 * order, numbers without leading zeros.
 */
export function comparableSchedule(schedule: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(schedule ?? {})) {
    if (key === 'days') {
      const given = value.split(',').map((d) => d.trim().toLowerCase());
      out.days = WEEK.filter((d) => given.includes(d)).map((d) => d[0]!.toUpperCase() + d.slice(1)).join(',');
    } else if ((key === 'hour' || key === 'min') && /^\d+$/.test(value)) out[key] = String(Number(value));
    else out[key] = value;
  }
  return out;
}

/** The members: the VMs the schedule names, then VM manifests whose labels match its selector. */
export function membersOf(ctx: PlanContext, doc: DesiredSnapshotSchedule): SelectedMember[] {
  return namedOrSelected(doc.spec.vms, doc.spec.selector?.labels, ctx.desired.vms);
}

/**
 * Plans one SnapshotSchedule. The schedule is a VMSS; membership is each VM's snapshot_schedule. Every
 * change is metadata (disruption none): the pool takes the snapshots, xops only keeps the schedule as
 * declared. Runs after the VMs, so it depends on the creates of its new members.
 */
export function planSchedule(ctx: PlanContext, doc: DesiredSnapshotSchedule): void {
  const address = addressOfResource(doc);
  const owner = ctx.owners.get(address);
  if (!owner || owner.state === 'conflict') return;
  const needs: string[] = [];
  const members = membersOf(ctx, doc).map((m) => resolveRef(ctx, doc, m.path, m.ref, { cls: 'VM', kind: 'VM' }, needs));
  if (ctx.failed.has(address)) return;
  const desired = { ...doc.spec, vms: members as ResolvedReference[], selector: undefined };
  if (owner.state === 'absent') {
    ctx.actions.push(makeAction({
      operation: 'create', resource: doc, needs, desired,
      changes: createChanges({ ...doc.spec, vms: undefined, selector: undefined }).concat(desired.vms.map(memberJoins)),
      reason: `new ${doc.spec.frequency} snapshot schedule of ${desired.vms.length} VM(s), keeping ${doc.spec.retain}`,
      details: { removeMembers: [] } satisfies ScheduleDetails,
    }));
    return;
  }
  const ref = owner.ref as Ref;
  const rec = owner.record as VMSSRecord;
  const self = objectRef('VMSS', ref, rec.uuid);
  const markKeys = poolMarkKeys('VMSS', rec.uuid);
  if (owner.state === 'adopt') {
    ctx.actions.push(makeAction({
      operation: 'adopt', resource: doc, objects: [self], desired, details: { markKeys, removeMembers: [] } satisfies ScheduleDetails,
      reason: `takes ownership of the existing snapshot schedule '${rec.name_label}' (writes xops' mark in the pool's other_config)`,
    }));
  }
  const changes: FieldChange[] = [];
  const objects: ObjectRef[] = [self];
  compareField(changes, 'spec.nameLabel', rec.name_label, doc.spec.nameLabel);
  if (doc.spec.description !== undefined) compareField(changes, 'spec.description', rec.name_description, doc.spec.description);
  compareField(changes, 'spec.enabled', rec.enabled, doc.spec.enabled);
  compareField(changes, 'spec.type', rec.type, doc.spec.type);
  compareField(changes, 'spec.frequency', rec.frequency, doc.spec.frequency);
  compareField(changes, 'spec.schedule', comparableSchedule(rec.schedule), doc.spec.schedule);
  compareField(changes, 'spec.retain', rec.retained_snapshots, doc.spec.retain);
  const membership = diffMembers(ctx, desired.vms, rec.VMs, (vm) => vm['snapshot_schedule'] === ref, 'the VM leaves the schedule; its snapshots stay');
  changes.push(...membership.changes);
  objects.push(...membership.objects);
  const removeMembers = membership.removeMembers;
  if (changes.length === 0) return;
  ctx.actions.push(makeAction({
    operation: 'update', resource: doc, changes, objects, desired, needs, drift: owner.mark.spec === specDigest(doc),
    reason: 'a snapshot schedule and its membership are metadata, changed live',
    details: { markKeys, removeMembers } satisfies ScheduleDetails,
  }));
}

/** Managed schedules with no manifest: deleted (after their VMs leave; snapshots stay) only when prune is on. */
export function pruneSchedules(ctx: PlanContext): void {
  for (const { name, uuid, ref } of prunablePoolKept(ctx, 'SnapshotSchedule', 'VMSS', 'snapshot schedule')) {
    ctx.actions.push(makeAction({
      operation: 'delete', resource: { kind: 'SnapshotSchedule', meta: { name } }, disruption: 'none',
      reason: 'the schedule is no longer declared: its VMs leave it and it is destroyed; snapshots already taken stay',
      objects: [objectRef('VMSS', ref, uuid)],
      details: { markKeys: poolMarkKeys('VMSS', uuid), removeMembers: [] } satisfies ScheduleDetails,
    }));
  }
}

