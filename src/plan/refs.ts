import type { DesiredResource, Reference } from '../model/desired.js';
import type { ResourceKind } from '../model/kinds.js';
import type { ObservedClass, ObservedRecordTypes, Ref } from '../model/observed.js';
import type { LiveHit, PlanContext } from './context.js';

export type { LiveHit } from './context.js';
import { addDiagnostic, addressOfResource, locate, read, readLookup, rememberLookup } from './context.js';

/**
 * A reference as apply receives it. `uuid` is the existing object's uuid when there is one; a
 * reference to a manifest whose object is created in the same plan has only `address`, and apply
 * finds the object by its mark once the create has run (the action depends on that create).
 */
export interface ResolvedReference extends Reference {
  uuid?: string;
  /** `Kind/name` of the manifest, for `target: 'manifest'`. */
  address?: string;
}

/** What a reference may point at. */
export interface RefTarget<C extends ObservedClass> {
  cls: C;
  kind: ResourceKind;
  isCandidate?: (rec: ObservedRecordTypes[C]) => boolean;
}

/**
 * Finds an existing object by uuid, else by name_label; `undefined` after adding a diagnostic.
 * Thousands of VMs name the same template and networks: a name found once is found again from a
 * per-plan cache, recording the same reads (a failure is looked up again, to report it each time).
 */
export function findLive<C extends ObservedClass>(
  ctx: PlanContext,
  resource: DesiredResource,
  path: string,
  name: string,
  target: RefTarget<C>,
): [Ref, ObservedRecordTypes[C]] | undefined {
  // A traced VM (memo.ts) asks the pool itself: its own questions are what tell whether it can be replayed.
  if (ctx.trace) {
    const found = findLiveUncached(ctx, resource, path, name, target);
    if (found) noteUser(ctx, found.hit[0], resource, path);
    return found?.hit as [Ref, ObservedRecordTypes[C]] | undefined;
  }
  // One cache per class and candidate filter: the filter decides which objects may answer.
  const cacheKey = target.isCandidate ?? target.cls;
  let cache = ctx.liveHits.get(cacheKey);
  if (!cache) ctx.liveHits.set(cacheKey, (cache = new Map()));
  const cached = cache.get(`${target.cls}/${name}`);
  if (cached) {
    if (cached.lookup) rememberLookup(ctx, cached.lookup.key, cached.lookup.text);
    read(ctx, target.cls, cached.hit[0]);
    noteUser(ctx, cached.hit[0], resource, path);
    return cached.hit as [Ref, ObservedRecordTypes[C]];
  }
  const found = findLiveUncached(ctx, resource, path, name, target);
  if (found) {
    cache.set(`${target.cls}/${name}`, found);
    noteUser(ctx, found.hit[0], resource, path);
  }
  return found?.hit as [Ref, ObservedRecordTypes[C]] | undefined;
}

/**
 * Records that a declared resource uses a pool object (the first one recorded is kept): a delete of
 * that object is then refused. Live references record themselves; kinds call this for uses that are
 * no reference (a declared VM's disk lives on an SR whatever its `sr` says).
 */
export function noteUser(ctx: PlanContext, ref: Ref, resource: DesiredResource, path: string): void {
  const known = ctx.liveUsers.has(ref);
  // Traced even when another manifest was first: replayed without that one, this one is.
  if (known && !ctx.trace) return;
  const user = { address: addressOfResource(resource), path, location: locate(ctx, resource, path) };
  if (!known) ctx.liveUsers.set(ref, user);
  ctx.trace?.users.push([ref, user]);
}

function findLiveUncached<C extends ObservedClass>(
  ctx: PlanContext,
  resource: DesiredResource,
  path: string,
  name: string,
  target: RefTarget<C>,
): LiveHit | undefined {
  const ok = target.isCandidate ?? (() => true);
  const byUuid = ctx.index.byUuid(target.cls, name);
  if (byUuid && ok(byUuid[1])) {
    read(ctx, target.cls, byUuid[0]);
    return { hit: byUuid };
  }
  const all = ctx.index.byName(target.cls, name);
  const named = all.filter(([, r]) => ok(r));
  // The plan relied on every object with that name (staleObjects re-reads them unfiltered).
  const lookup = readLookup(ctx, target.cls, 'name_label', name, all.map(([, r]) => r.uuid));
  if (named.length === 1) {
    read(ctx, target.cls, named[0][0]);
    return { hit: named[0], lookup };
  }
  if (named.length === 0) {
    addDiagnostic(ctx, resource, 'error', 'dangling-ref', `no ${target.cls} named '${name}' in the pool`, path);
  } else {
    addDiagnostic(ctx, resource, 'error', 'ambiguous-ref',
      `${named.length} ${target.cls} objects are named '${name}' (${named.map(([, r]) => r.uuid).join(', ')}); refer to one by uuid`, path);
  }
  return undefined;
}

/**
 * Resolves a reference against the pool and the other manifests. Adds the referenced manifest's
 * address to `needs` when its object is created in this plan. `undefined` when it cannot be
 * resolved (an error diagnostic was added).
 */
export function resolveRef<C extends ObservedClass>(
  ctx: PlanContext,
  resource: DesiredResource,
  path: string,
  reference: Reference,
  target: RefTarget<C>,
  needs: string[],
): ResolvedReference | undefined {
  if (reference.target === 'live') {
    const hit = findLive(ctx, resource, path, reference.name, target);
    return hit ? { ...reference, uuid: hit[1].uuid } : undefined;
  }
  const address = `${target.kind}/${reference.name}`;
  const liveNames = ctx.liveNamed.get(target.kind);
  if (liveNames) {
    // A manifest of this kind names an existing object (a Host manifest, a host); its object is that one.
    const hit = findLive(ctx, resource, path, liveNames.get(reference.name) ?? reference.name, target);
    return hit ? { ...reference, address, uuid: hit[1].uuid } : undefined;
  }
  // Always a dependency: if the target is created, replaced or adopted in this plan, that runs first.
  needs.push(address);
  const owner = ctx.owners.get(address);
  if (!owner) {
    addDiagnostic(ctx, resource, 'error', 'dangling-ref', `no ${target.kind} manifest named '${reference.name}'`, path);
    return undefined;
  }
  if (owner.state === 'conflict') {
    addDiagnostic(ctx, resource, 'error', 'blocked-ref', `refers to ${address}, which cannot be planned (see its error)`, path);
    return undefined;
  }
  if (owner.state === 'absent') return { ...reference, address };
  return { ...reference, address, uuid: owner.record.uuid };
}
