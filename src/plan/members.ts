import type { Reference } from '../model/desired.js';
import type { Ref, VMRecord } from '../model/observed.js';
import type { FieldChange, ObjectRef } from '../model/plan.js';
import { read, type PlanContext } from './context.js';
import { objectRef } from './changes.js';
import type { ResolvedReference } from './refs.js';

/** A member a grouping manifest selects, with the path to report problems at. */
export interface SelectedMember {
  ref: Reference;
  path: string;
}

/**
 * The members of a manifest that groups other resources (a snapshot schedule, a VM group): those it
 * names in `spec.vms`, then the `candidates` (manifests of the member kind) whose labels match every
 * label of `selector`, each once. Pure.
 */
export function namedOrSelected(
  named: readonly Reference[],
  selector: Readonly<Record<string, string>> | undefined,
  candidates: readonly { meta: { name: string; labels: Readonly<Record<string, string>> } }[],
): SelectedMember[] {
  const out = named.map((ref, i) => ({ ref, path: `spec.vms[${i}]` }));
  if (!selector) return out;
  const taken = new Set(named.map((r) => r.name));
  for (const c of candidates) {
    if (taken.has(c.meta.name) || !Object.entries(selector).every(([k, v]) => c.meta.labels[k] === v)) continue;
    out.push({ ref: { name: c.meta.name, target: 'manifest', checked: true }, path: 'spec.selector' });
  }
  return out;
}

/** The change listing a VM that joins a grouping manifest (disruption none: membership is metadata). */
export function memberJoins(m: ResolvedReference): FieldChange {
  return { path: `spec.vms[${m.name}]`, from: undefined, to: 'member', disruption: 'none' };
}

/** How a grouping object's VMs differ from its declared members (see diffMembers). */
export interface MembershipDiff {
  /** Joins (declared VMs not yet members, or not yet created), then leaves. */
  changes: FieldChange[];
  /** Every existing VM the diff read: declared members, then those leaving. */
  objects: ObjectRef[];
  /** uuids of the VMs that leave. */
  removeMembers: string[];
  /** The declared members that exist, by uuid. */
  kept: Map<string, [Ref, VMRecord]>;
}

/**
 * Compares the declared `members` with `current` (the object's VMs): `isMember` says whether an
 * existing VM already belongs to the object; a VM of `current` no member names leaves it, with `leaveReason`.
 */
export function diffMembers(
  ctx: PlanContext,
  members: readonly ResolvedReference[],
  current: readonly Ref[],
  isMember: (vm: VMRecord) => boolean,
  leaveReason: string,
): MembershipDiff {
  const out: MembershipDiff = { changes: [], objects: [], removeMembers: [], kept: new Map() };
  for (const m of members) {
    const hit = m.uuid ? ctx.index.byUuid('VM', m.uuid) : undefined;
    if (!hit) {
      out.changes.push(memberJoins(m));
      continue;
    }
    out.kept.set(hit[1].uuid, hit);
    read(ctx, 'VM', hit[0]);
    out.objects.push(objectRef('VM', hit[0], hit[1].uuid));
    if (!isMember(hit[1])) out.changes.push(memberJoins(m));
  }
  for (const vmRef of current) {
    const vm = read(ctx, 'VM', vmRef);
    if (!vm || out.kept.has(vm.uuid)) continue;
    out.removeMembers.push(vm.uuid);
    out.objects.push(objectRef('VM', vmRef, vm.uuid));
    out.changes.push({ path: `spec.vms[${vm.name_label}]`, from: 'member', to: undefined, disruption: 'none', reason: leaveReason });
  }
  return out;
}
