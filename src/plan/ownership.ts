import type { DesiredResource } from '../model/desired.js';
import type { ObservedRecordTypes, Ref } from '../model/observed.js';
import { MANAGED_KEY, repoMatches } from '../model/observed.js';
import type { OwnedClass, Ownership, PlanContext } from './context.js';

export type { OwnedClass, Ownership } from './context.js';
import { addDiagnostic, addressOfResource, automation, read, readLookup } from './context.js';
import { markOf, type ObjectMark } from './ownership-marks.js';

function markFor(ctx: PlanContext, cls: OwnedClass, record: { uuid: string }): ObjectMark {
  if (cls === 'VM_appliance') return ctx.applianceMarks.get(record.uuid) ?? {};
  return markOf(record as ObservedRecordTypes['VM']);
}

/** Whether a marked object belongs to this repository (objects from other repositories are never touched). */
export function ownedByThisRepo(ctx: PlanContext, mark: ObjectMark): boolean {
  return repoMatches(mark.repo, ctx.options.repo);
}

/**
 * Finds the pool object a manifest stands for. Only objects carrying the mark `<Kind>/<name>` are
 * xops'; an unmarked one with the manifest's name_label is a conflict unless adoption is allowed.
 * `isCandidate` excludes objects of the class that can never be the resource (templates, snapshots,
 * control domains for VMs).
 */
export function findOwned<C extends OwnedClass>(
  ctx: PlanContext,
  resource: DesiredResource,
  cls: C,
  nameLabel: string,
  isCandidate: (rec: ObservedRecordTypes[C]) => boolean = () => true,
): Ownership<C> {
  const address = addressOfResource(resource);
  const marked: [Ref, ObservedRecordTypes[C]][] = [];
  if (cls === 'VM_appliance') {
    for (const pool of ctx.observed.records.pool.keys()) read(ctx, 'pool', pool);
    for (const [uuid, mark] of ctx.applianceMarks) {
      if (mark.address !== address) continue;
      const hit = ctx.index.byUuid(cls, uuid);
      if (hit) marked.push(hit);
    }
  } else {
    for (const item of ctx.index.managed(address)) {
      if (item.cls !== cls) continue;
      const rec = ctx.index.get(cls, item.ref);
      if (rec && isCandidate(rec)) marked.push([item.ref, rec]);
    }
    readLookup(ctx, cls, MANAGED_KEY, address, marked.map(([, r]) => r.uuid));
  }
  if (marked.length > 1) {
    addDiagnostic(ctx, resource, 'error', 'duplicate-owner',
      `${marked.length} ${cls} objects carry the mark ${address} (${marked.map(([, r]) => r.uuid).join(', ')}); remove it from all but one`);
    return { state: 'conflict' };
  }
  if (marked.length === 1) {
    const [ref, record] = marked[0];
    read(ctx, cls, ref);
    const mark = markFor(ctx, cls, record);
    if (!ownedByThisRepo(ctx, mark)) {
      addDiagnostic(ctx, resource, 'error', 'foreign-owner',
        `the ${cls} ${record.uuid} is managed by another repository (${mark.repo}); xops will not touch it`);
      return { state: 'conflict' };
    }
    return { state: 'managed', ref, record, mark };
  }
  const all = ctx.index.byName(cls, nameLabel);
  const named = all.filter(([, rec]) => isCandidate(rec) && !markFor(ctx, cls, rec).address);
  // The plan relied on every object with that name (staleObjects re-reads them unfiltered).
  readLookup(ctx, cls, 'name_label', nameLabel, all.map(([, r]) => r.uuid));
  if (named.length === 0) return { state: 'absent' };
  const adopt = ctx.options.adopt ?? automation(ctx, resource.kind, resource.meta.name, resource.meta.labels).adopt;
  if (!adopt) {
    addDiagnostic(ctx, resource, 'error', 'conflict',
      `an unmanaged ${cls} named '${nameLabel}' already exists (${named.map(([, r]) => r.uuid).join(', ')}); ` +
        'rename the manifest, or allow adoption (Policy automation.adopt: true)');
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
