/**
 * The Kind contract: everything the generic engines (loader, schema writer, planner, apply, export)
 * need to know about one kind of manifest, as one typed object. Each kind's folder builds its own
 * (`src/kinds/<kind>/index.ts`); `src/kinds/index.ts` lists them in pipeline order. The engines
 * iterate that list and never name a kind.
 */
import type { Applier } from '../apply/applier.js';
import type { ApplyContext, HealthWait } from '../apply/context.js';
import type { KindExporter } from '../export/manifest-doc.js';
import type { KindDefinition } from '../manifests/build-context.js';
import type { DesiredDocument, DesiredResource, DesiredState } from '../model/desired.js';
import type { Kind } from '../model/kinds.js';
import type { ObservedClass } from '../model/observed.js';
import type { Action } from '../model/plan.js';
import type { PlanContext } from '../plan/context.js';
import type { OwnerRule } from '../plan/ownership.js';
import type { BuiltInProtection } from '../plan/protection.js';

/** One secretRef in a document: where it is, what it names, and why its key may not hold one. */
export interface KindSecretUse {
  path: string;
  ref: { env?: string; file?: string };
  notCredential?: string;
}

/** The DesiredState field that holds a kind's documents (an array, or `pool`: at most one). */
export type DesiredSlot = 'pool' | 'hosts' | 'networks' | 'srs' | 'disks' | 'vms' | 'appliances' | 'snapshotSchedules' | 'vmGroups' | 'policies';

/**
 * One kind. Optional parts are absent for kinds that do not take part in that stage: Policy has a
 * schema only; Host is planned, applied and exported but neither owned nor pruned.
 */
export interface KindContract<D extends DesiredDocument = DesiredDocument> extends KindDefinition<D> {
  kind: Kind;
  /** The XAPI classes this kind's objects are made of, its main class first (empty: none, Policy). */
  classes: readonly ObservedClass[];
  /** Where loaded documents of this kind go in DesiredState. */
  desired: DesiredSlot;
  /**
   * Documents of this kind come by the thousand, and their work is kept between loads and plans
   * (loader.ts buildGuard, plan/memo.ts): the build reads only its own text, the live inventory and
   * the names of kinds that are not memoizable; the planner reaches the pool only through
   * `ctx.index`, `ctx.owners` and `derivedValue`, and sets `ctx.trace.uncacheable` where it depends
   * on other documents of its own kind (capacity, placement).
   */
  memoizable?: boolean;
  /** At most one manifest of this kind per repository (Pool). */
  singleton?: boolean;
  /**
   * A manifest of this kind names an existing pool object by this name, never one xops creates
   * (Host): references to such a manifest resolve to that live object.
   */
  liveName?(doc: D): string;
  /** Objects xops creates and marks as its own; found before any kind is planned. */
  owner?: OwnerRule<D & DesiredResource>;
  /** Adds the actions that make the pool match one document (runs in registry order). */
  plan?(ctx: PlanContext, doc: D): void;
  /** Adds deletes for managed objects no manifest declares any more (runs in reverse registry order). */
  prune?(ctx: PlanContext): void;
  /**
   * For a delete of this kind: uuids of other resources' main objects still using what it deletes
   * (the VMs on a network); the delete is ordered after every action on them.
   */
  usersOf?(ctx: PlanContext, action: Action): Set<string>;
  /**
   * Every secretRef a document of this kind holds, with the JSON path of the value and, when the key
   * is not one that holds a credential (per `credentialKeys`, by type), why it may not be a secret.
   */
  secretUses?(doc: D, credentialKeys: Readonly<Record<string, readonly string[]>>): KindSecretUse[];
  /**
   * Why an object of the main class belongs to XAPI or the hosts (control domains, templates, the
   * SRs and networks a host ships with), so that xops never adopts, changes or deletes it.
   */
  protection?: BuiltInProtection;
  /** Carries out one of this kind's plan actions. */
  apply?: Applier;
  /**
   * For an action a Policy's rollout paces, after it succeeded: resolves once its object is healthy
   * again and stayed so for `wait.healthyAfterMs`; rejects (an ApplyError) saying why it is not.
   */
  health?(action: Action, ctx: ApplyContext, wait: HealthWait): Promise<void>;
  /** How `xops export` writes manifests of this kind from a pool snapshot. */
  export?: KindExporter;
}

/** The documents of one kind in a desired state, in declaration order. */
export function documentsOf(desired: DesiredState, kind: KindContract): DesiredDocument[] {
  const value = desired[kind.desired];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Adds a loaded document to its kind's field; a second document for a single-valued field is ignored. */
export function addDocument(desired: DesiredState, kind: KindContract, doc: DesiredDocument): void {
  const value = desired[kind.desired];
  if (Array.isArray(value)) (value as DesiredDocument[]).push(doc);
  else (desired as unknown as Record<string, unknown>)[kind.desired] ??= doc;
}

/**
 * Erases a kind's document type so that kinds fit in one list. Sound because the engines hand each
 * kind only documents whose `kind` is its own.
 */
export function defineKind<D extends DesiredDocument>(kind: KindContract<D>): KindContract {
  return kind as unknown as KindContract;
}
