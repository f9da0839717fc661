import type { DesiredResource } from '../model/desired.js';
import type { ObservedRecordTypes, Ref } from '../model/observed.js';
import { MANAGED_KEY, repoMatches } from '../model/observed.js';
import type { OwnedClass, Ownership, PlanContext } from './context.js';

export type { OwnedClass, Ownership } from './context.js';
import { addDiagnostic, addressOfResource, automation, read, readLookup } from './context.js';
import { markOf, poolKeptMarks, type ObjectMark, type PoolMarkedClass } from './ownership-marks.js';

/**
 * Where a class keeps xops' marks. The default (ownOtherConfig) is the object's own other_config; a
 * class without one (VM_appliance) keeps them elsewhere and gives its kind's owner rule its own store.
 */
export interface MarkStore<C extends OwnedClass = OwnedClass> {
  /** The marks of one object of the class. */
  markOf(ctx: PlanContext, record: ObservedRecordTypes[C]): ObjectMark;
  /** The candidate objects marked `address`, recording what the plan relied on to find them. */
  marked(ctx: PlanContext, cls: C, address: string, isCandidate: (rec: ObservedRecordTypes[C]) => boolean): [Ref, ObservedRecordTypes[C]][];
}

/** Uuid → marks of a class whose marks the pool's other_config keeps (it has none), read once per plan. */
export function poolMarksOf(ctx: PlanContext, cls: PoolMarkedClass): Map<string, ObjectMark> {
  const key = `pool-marks/${cls}`;
  let marks = ctx.memo.get(key) as Map<string, ObjectMark> | undefined;
  if (!marks) ctx.memo.set(key, (marks = poolKeptMarks(ctx.observed, cls)));
  return marks;
}

/** The mark store of a class without other_config (VM_appliance, VMSS, VM_group): the pool's other_config. */
export function poolOtherConfigMarks<C extends PoolMarkedClass & OwnedClass>(cls: C): MarkStore<C> {
  return {
    markOf: (ctx, record) => poolMarksOf(ctx, cls).get(record.uuid) ?? {},
    marked(ctx, _cls, address) {
      // The plan relied on the pool's other_config, where the marks are.
      for (const pool of ctx.observed.records.pool.keys()) read(ctx, 'pool', pool);
      const marked: [Ref, ObservedRecordTypes[C]][] = [];
      for (const [uuid, mark] of poolMarksOf(ctx, cls)) {
        if (mark.address !== address) continue;
        const hit = ctx.index.byUuid(cls, uuid);
        if (hit) marked.push(hit as [Ref, ObservedRecordTypes[C]]);
      }
      return marked;
    },
  };
}

/** Marks kept in the object's own other_config. */
export const ownOtherConfig: MarkStore = {
  markOf: (_ctx, record) => markOf(record),
  marked(ctx, cls, address, isCandidate) {
    const marked: [Ref, ObservedRecordTypes[typeof cls]][] = [];
    for (const ref of ctx.index.managedIn(cls, address)) {
      const rec = ctx.index.get(cls, ref);
      if (rec && isCandidate(rec)) marked.push([ref, rec]);
    }
    readLookup(ctx, cls, MANAGED_KEY, address, marked.map(([, r]) => r.uuid));
    return marked;
  },
};

/** How the planner finds the pool object a manifest stands for (a kind's `owner`, see findOwned). */
export interface OwnerRule<D extends DesiredResource = DesiredResource, C extends OwnedClass = OwnedClass> {
  cls: C;
  /** The name_label an unmarked object must have to be adopted. */
  nameLabel(doc: D): string;
  /** Excludes objects of the class that can never be this resource (templates, snapshots for VMs). */
  isCandidate?(record: ObservedRecordTypes[C]): boolean;
  /** Where the class keeps its marks; default ownOtherConfig. */
  marks?: MarkStore<C>;
}

/** Whether a marked object belongs to this repository (objects from other repositories are never touched). */
export function ownedByThisRepo(ctx: PlanContext, mark: ObjectMark): boolean {
  return repoMatches(mark.repo, ctx.options.repo);
}

/**
 * Finds the pool object a manifest stands for. Only objects carrying the mark `<Kind>/<name>` are
 * xops'; an unmarked one with the manifest's name_label is a conflict unless adoption is allowed.
 * The rule's `isCandidate` excludes objects of the class that can never be the resource (templates,
 * snapshots, control domains for VMs).
 */
export function findOwned<D extends DesiredResource, C extends OwnedClass>(ctx: PlanContext, resource: D, rule: OwnerRule<D, C>): Ownership<C> {
  const cls = rule.cls;
  const nameLabel = rule.nameLabel(resource);
  const isCandidate = (rec: ObservedRecordTypes[C]): boolean => rule.isCandidate?.(rec) ?? true;
  const store = (rule.marks ?? ownOtherConfig) as MarkStore<C>;
  const markFor = (rec: ObservedRecordTypes[C]): ObjectMark => store.markOf(ctx, rec);
  const address = addressOfResource(resource);
  const marked = store.marked(ctx, cls, address, isCandidate);
  if (marked.length > 1) {
    addDiagnostic(ctx, resource, 'error', 'duplicate-owner',
      `${marked.length} ${cls} objects carry the mark ${address} (${marked.map(([, r]) => r.uuid).join(', ')}); remove it from all but one`);
    return { state: 'conflict' };
  }
  if (marked.length === 1) {
    const [ref, record] = marked[0];
    read(ctx, cls, ref);
    const mark = markFor(record);
    if (!ownedByThisRepo(ctx, mark)) {
      addDiagnostic(ctx, resource, 'error', 'foreign-owner',
        `the ${cls} ${record.uuid} is managed by another repository (${mark.repo}); xops will not touch it`);
      return { state: 'conflict' };
    }
    return { state: 'managed', ref, record, mark };
  }
  const all = ctx.index.byName(cls, nameLabel);
  const named = all.filter(([, rec]) => isCandidate(rec) && !markFor(rec).address);
  // The plan relied on every object with that name (staleObjects re-reads them unfiltered).
  readLookup(ctx, cls, 'name_label', nameLabel, all.map(([, r]) => r.uuid));
  if (named.length === 0) return { state: 'absent' };
  const byPolicy = ctx.options.adopt ?? automation(ctx, resource.kind, resource.meta.name, resource.meta.labels).adopt;
  const limited = ctx.options.limits !== undefined && !ctx.options.limits.adopt;
  if (!byPolicy || limited) {
    addDiagnostic(ctx, resource, 'error', 'conflict',
      `an unmanaged ${cls} named '${nameLabel}' already exists (${named.map(([, r]) => r.uuid).join(', ')}); ` +
        (byPolicy
          ? "rename the manifest, or raise the operator's limit (limits.adopt in the operator's configuration, or --allow-adopt)"
          : 'rename the manifest, or allow adoption (Policy automation.adopt: true)'));
    return { state: 'conflict' };
  }
  if (named.length > 1) {
    addDiagnostic(ctx, resource, 'error', 'ambiguous-adopt',
      `${named.length} unmanaged ${cls} objects are named '${nameLabel}'; xops cannot tell which one to adopt`);
    return { state: 'conflict' };
  }
  const [ref, record] = named[0];
  read(ctx, cls, ref);
  return { state: 'adopt', ref, record, mark: {} };
}
