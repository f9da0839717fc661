import type { DesiredState } from '../model/desired.js';
import type { ObservedState } from '../model/observed.js';
import type { Plan } from '../model/plan.js';
import { planHost } from '../kinds/host/plan.js';
import { planNetwork, pruneNetworks } from '../kinds/network/plan.js';
import { planPool } from '../kinds/pool/plan.js';
import { planSR, pruneSRs } from '../kinds/sr/plan.js';
import { isPlainVM, planVM, pruneVMs } from '../kinds/vm/plan.js';
import { planAppliance, pruneAppliances } from '../kinds/vmappliance/plan.js';
import { createContext, identityObjects } from './context.js';
import { orderActions } from './order.js';
import { findOwned } from './ownership.js';

export { specDigest, staleObjects } from './identity.js';
import { withSpecDigests } from './spec-digests.js';
export type { ResolvedReference } from './refs.js';

/** What the planner may be told besides desired and observed state. */
export interface PlanOptions {
  /** The plan's createdAt; defaults to the current time. */
  now?: Date;
  /** Repository identity (`xops.repo`): objects marked by another repository are never touched. */
  repo?: string;
  /** Adopt unmanaged objects that have a manifest's name; default: the Policy's automation.adopt. */
  adopt?: boolean;
  /** Delete managed objects no manifest declares; default: the Policy's automation.prune. */
  prune?: boolean;
  /** Live-migrate running VMs to their affinity host; default: the VM's `xops.io/migrate-on-affinity` annotation. */
  migrateOnAffinity?: boolean;
}

/**
 * Compares what the manifests declare with what the pool has and returns the actions that make the
 * pool match, each labelled with what it costs the running workload. Pure: no I/O, no clock unless
 * `now` is absent. Problems (conflicts, dangling references) are diagnostics in the plan; the
 * resources they concern have no actions.
 */
export function planChanges(desired: DesiredState, observed: ObservedState, opts: PlanOptions = {}): Plan {
  const ctx = createContext(desired, observed, {
    now: opts.now ?? new Date(),
    repo: opts.repo,
    adopt: opts.adopt,
    prune: opts.prune,
    migrateOnAffinity: opts.migrateOnAffinity,
  });
  // Ownership first, so that references between manifests know whether their target is created.
  for (const n of desired.networks) ctx.owners.set(`Network/${n.meta.name}`, findOwned(ctx, n, 'network', n.spec.nameLabel));
  for (const s of desired.srs) ctx.owners.set(`SR/${s.meta.name}`, findOwned(ctx, s, 'SR', s.spec.nameLabel));
  for (const v of desired.vms) ctx.owners.set(`VM/${v.meta.name}`, findOwned(ctx, v, 'VM', v.spec.nameLabel, isPlainVM));
  for (const a of desired.appliances) ctx.owners.set(`VMAppliance/${a.meta.name}`, findOwned(ctx, a, 'VM_appliance', a.spec.nameLabel));

  if (desired.pool) planPool(ctx, desired.pool);
  desired.hosts.forEach((h) => planHost(ctx, h));
  desired.networks.forEach((n) => planNetwork(ctx, n));
  desired.srs.forEach((s) => planSR(ctx, s));
  desired.vms.forEach((v) => planVM(ctx, v));
  desired.appliances.forEach((a) => planAppliance(ctx, a));

  pruneAppliances(ctx);
  pruneVMs(ctx);
  pruneSRs(ctx);
  pruneNetworks(ctx);

  const actions = orderActions(ctx, ctx.actions);
  // Every action carries the digest apply records as xops.spec, so a saved plan is complete too.
  return withSpecDigests({
    formatVersion: 1,
    createdAt: ctx.options.now.toISOString(),
    source: desired.source,
    observed: { token: observed.token, objects: identityObjects(ctx) },
    actions,
    refused: ctx.refused,
    diagnostics: ctx.diagnostics,
  }, desired);
}
