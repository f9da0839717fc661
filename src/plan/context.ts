import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredResource, DesiredState, RawDocument } from '../model/desired.js';
import type { ResourceKind } from '../model/kinds.js';
import type { ObservedClass, ObservedRecordTypes, ObservedState, Ref, XapiRecord } from '../model/observed.js';
import type { ObservedIndex } from '../model/observed-index.js';
import type { Action, Refusal } from '../model/plan.js';
import { indexObserved } from '../model/observed-index.js';
import { rawDocumentOf } from '../model/raw-pairing.js';
import { addressOf } from '../model/address.js';
import { isSealed } from '../model/sealed.js';
import type { Steps } from '../model/steps.js';
import { lookupKey, lookupText, lookupTextDigest, recordIdentity } from './identity.js';
import { effectiveSettings, type OperatorLimits } from '../policy/settings.js';
import type { ObjectMark } from './ownership-marks.js';

/** Classes xops creates, and so owns through its mark. */
export type OwnedClass = 'network' | 'SR' | 'VDI' | 'VM' | 'VM_appliance' | 'VMSS' | 'VM_group';

/**
 * How a manifest relates to the pool: its object exists and carries xops' mark (`managed`); an
 * unmanaged object with its name will be adopted (`adopt`); nothing matches (`absent`, create it);
 * or it cannot be planned (`conflict`, an error diagnostic was added).
 */
export type Ownership<C extends OwnedClass> =
  | { state: 'managed' | 'adopt'; ref: Ref; record: ObservedRecordTypes[C]; mark: ObjectMark }
  | { state: 'absent' }
  | { state: 'conflict' };

/** A live reference found once in this plan, and the lookup it relied on (for a name). */
export interface LiveHit {
  hit: [Ref, XapiRecord];
  lookup?: { key: string; text: string };
}

/** A manifest that refers to a pool object: its address, the path of the reference, and where it is written. */
export interface LiveUser {
  address: string;
  path: string;
  location: Diagnostic['location'];
}

/**
 * An action while the plan is being built: `needs` lists addresses (`Network/lan`) whose create or
 * replace must finish first, turned into `dependsOn` ids once every action exists.
 */
export interface DraftAction extends Action {
  needs?: string[];
}

/**
 * One question a traced planning asked and its answer, flattened to refs and records:
 * [kind, class, argument, answer] (see trace.ts).
 */
export type Query = ['get' | 'uuid' | 'name' | 'mark' | 'first' | 'derived' | 'owner', string, string, readonly unknown[]];

/**
 * What one VM's planning read and recorded while a PlanMemo watched it (see memo.ts): the
 * first-wins records in the order made, and whether it touched state other VMs share.
 */
export interface PlanTrace {
  /** What it asked of the pool's state (tracingIndex, derivedValue). */
  queries: Query[];
  reads: [XapiRecord, ObservedClass, Ref][];
  lookups: [string, string][];
  users: [Ref, LiveUser][];
  /** Set by planning that reads or changes what the VMs planned before it left (capacity, placement). */
  uncacheable: boolean;
}

/** Options as the planner uses them, after defaults. */
export interface ResolvedOptions {
  now: Date;
  repo?: string;
  adopt?: boolean;
  prune?: boolean;
  /** Overrides the per-VM `xops.io/migrate-on-affinity` annotation when set. */
  migrateOnAffinity?: boolean;
  /** The operator's ceilings on adopt and prune; absent: none (library use). */
  limits?: OperatorLimits;
  /** See PlanOptions.changedCredentials. */
  changedCredentials?: ReadonlySet<string>;
}

/**
 * Everything kind planners share: the observed snapshot and its indexes, the options, and the
 * collectors for actions, refusals, diagnostics and the objects the plan relied on.
 */
export interface PlanContext {
  readonly desired: DesiredState;
  readonly observed: ObservedState;
  readonly index: ObservedIndex;
  readonly options: ResolvedOptions;
  readonly actions: DraftAction[];
  readonly refused: Refusal[];
  readonly diagnostics: Diagnostic[];
  /** Address → the IPs its guest agent reports (VM_guest_metrics.networks), for `plan.guests`. */
  readonly guests: Map<string, string[]>;
  /**
   * Lookup key → the text (see lookupText) of its answer, in the order first looked up; digested
   * once each and, with the objects in `readObjects`, becomes `plan.observed.objects`.
   */
  readonly lookups: Map<string, string>;
  /**
   * Objects the plan relied on, in the order read, with their class, repeats included: appending
   * costs less than keeping them unique (10,000 VMs read the same SRs and networks), and
   * identityObjectsSteps keeps each object once, at its first read. Digested once per record.
   */
  readonly readObjects: { records: XapiRecord[]; classes: ObservedClass[] };
  /** Live references already found, per candidate filter (or class) and `<class>/<name>`: see findLive. */
  readonly liveHits: Map<unknown, Map<string, LiveHit>>;
  /**
   * Pool objects manifests refer to by name or uuid (a live reference), with the first manifest and
   * path that did: a delete of one of them is refused (the manifest still uses it).
   */
  readonly liveUsers: Map<Ref, LiveUser>;
  /** Values kind planners derive from the snapshot alone, computed once per plan (keys prefixed by kind). */
  readonly memo: Map<string, unknown>;
  /** Raw documents by address (the first of each), built on first use. */
  documentsByAddress?: Map<string, RawDocument>;
  /** Addresses of resources that had an error: their actions are left out. */
  readonly failed: Set<string>;
  /** Address → how the manifest relates to the pool, found before any kind is planned. */
  readonly owners: Map<string, Ownership<OwnedClass>>;
  /**
   * Kinds whose manifests name an existing object instead of one xops creates (Host), each with
   * manifest name → the object's name: a reference to such a manifest resolves to that live object.
   */
  readonly liveNamed: ReadonlyMap<ResourceKind, ReadonlyMap<string, string>>;
  /** Set while a PlanMemo records one VM's planning (memo.ts). */
  trace?: PlanTrace;
}

/** A fresh context; `liveNamed` as in PlanContext (the planner builds it from the kind registry). */
export function createContext(
  desired: DesiredState,
  observed: ObservedState,
  options: ResolvedOptions,
  liveNamed: ReadonlyMap<ResourceKind, ReadonlyMap<string, string>> = new Map(),
  /** Wraps the snapshot's index (a PlanMemo traces what VM planning asks of it). */
  wrapIndex?: (index: ObservedIndex, ctx: PlanContext) => ObservedIndex,
): PlanContext {
  const ctx: PlanContext = {
    desired,
    observed,
    index: indexObserved(observed),
    options,
    actions: [],
    refused: [],
    diagnostics: [],
    guests: new Map(),
    lookups: new Map(),
    readObjects: { records: [], classes: [] },
    liveHits: new Map(),
    liveUsers: new Map(),
    memo: new Map(),
    failed: new Set(),
    owners: new Map(),
    liveNamed,
  };
  if (wrapIndex) {
    (ctx as { index: ObservedIndex }).index = wrapIndex(ctx.index, ctx);
    // Another manifest's ownership (a network created in this plan, an SR adopted) is an answer too.
    (ctx as { owners: Map<string, Ownership<OwnedClass>> }).owners = new TracedOwners(() => ctx.trace);
  }
  return ctx;
}

/** ctx.owners whose lookups a PlanMemo's trace records (see trace.ts): [state, ref, record] per address. */
class TracedOwners extends Map<string, Ownership<OwnedClass>> {
  private readonly traceOf: () => PlanTrace | undefined;

  constructor(traceOf: () => PlanTrace | undefined) {
    super();
    this.traceOf = traceOf;
  }

  override get(address: string): Ownership<OwnedClass> | undefined {
    const owner = super.get(address);
    this.traceOf()?.queries.push(['owner', '', address, ownerAnswer(owner)]);
    return owner;
  }
}

/** An ownership as a trace compares it: its state, and the object's ref and record when there is one. */
export function ownerAnswer(owner: Ownership<OwnedClass> | undefined): readonly unknown[] {
  if (!owner) return [];
  return owner.state === 'managed' || owner.state === 'adopt' ? [owner.state, owner.ref, owner.record] : [owner.state];
}

/** Looks an object up by ref and records that the plan relied on it (for stale-plan detection). */
export function read<C extends ObservedClass>(ctx: PlanContext, cls: C, ref: Ref): ObservedRecordTypes[C] | undefined {
  const rec = ctx.index.get(cls, ref);
  if (rec) {
    ctx.readObjects.records.push(rec);
    ctx.readObjects.classes.push(cls);
    ctx.trace?.reads.push([rec, cls, ref]);
  }
  return rec;
}

/** Records digested between two steps of identityObjectsSteps: some 15-30 ms. */
const RECORDS_PER_STEP = 2500;

/**
 * The plan's `observed.objects`: every lookup, and every object read, digested once. `reuse`: for
 * plans made one after another in one process (a controller's), the last answer is kept. In steps
 * (see planSteps in index.ts): a cold plan of 10,000 VMs digests some 60,000 records, a third of a
 * second that would otherwise hold the event loop in one piece.
 */
export function* identityObjectsSteps(ctx: PlanContext, reuse = false): Steps<Readonly<Record<string, string>>> {
  // A one-off plan (the CLI) has nothing to reuse, and nothing to keep.
  if (!reuse) return yield* computeIdentityObjects(ctx);
  const last = lastIdentity;
  if (last && sameReads(last, ctx)) return last.out;
  // Frozen: a later plan may hand out the same object.
  const out = Object.freeze(yield* computeIdentityObjects(ctx));
  const { records, classes } = ctx.readObjects;
  // Kept only when every record is sealed (never mutated): the same objects then have the same digests.
  lastIdentity = records.every(isSealed) ? { records: [...records], classes: [...classes], lookups: [...ctx.lookups], out } : undefined;
  return out;
}

/**
 * The last plan's reads and their identity: a plan through the controller that read the same
 * sealed records and lookups as the one before (the pool did not change in between, whatever the
 * manifests did) reuses it instead of digesting some 100,000 reads again.
 */
let lastIdentity: { records: XapiRecord[]; classes: ObservedClass[]; lookups: [string, string][]; out: Readonly<Record<string, string>> } | undefined;

function sameReads(last: NonNullable<typeof lastIdentity>, ctx: PlanContext): boolean {
  const { records, classes } = ctx.readObjects;
  if (records.length !== last.records.length || ctx.lookups.size !== last.lookups.length) return false;
  for (let i = 0; i < records.length; i++) if (records[i] !== last.records[i] || classes[i] !== last.classes[i]) return false;
  let i = 0;
  for (const [key, text] of ctx.lookups) {
    const [k, t] = last.lookups[i++]!;
    if (k !== key || t !== text) return false;
  }
  return true;
}

function* computeIdentityObjects(ctx: PlanContext): Steps<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [key, text] of ctx.lookups) out[key] = lookupTextDigest(text);
  const { records, classes } = ctx.readObjects;
  // Assigning a key again keeps its first position, and a record's digest is the same each time.
  for (let i = 0; i < records.length; i++) {
    const [key, digest] = recordIdentity(classes[i]!, records[i]!);
    out[key] = digest;
    if ((i + 1) % RECORDS_PER_STEP === 0) yield;
  }
  return out;
}

/**
 * Records that the plan relied on "these objects (maybe none) have this name / mark". Returns the
 * lookup's key and digested text, so that a caller repeating it can `rememberLookup` instead.
 */
export function readLookup(ctx: PlanContext, cls: ObservedClass, field: 'name_label' | 'xops.managed', value: string, uuids: string[]): { key: string; text: string } {
  const lookup = { key: lookupKey(cls, field, value), text: lookupText(uuids) };
  rememberLookup(ctx, lookup.key, lookup.text);
  return lookup;
}

/** Records a lookup by its key and the text of its answer (see lookupText); the last answer counts. */
export function rememberLookup(ctx: PlanContext, key: string, text: string): void {
  ctx.lookups.set(key, text);
  ctx.trace?.lookups.push([key, text]);
}

function rawDocument(ctx: PlanContext, resource: DesiredResource): RawDocument | undefined {
  // The loader's own pairing first: a map of every document is built only for hand-made states.
  const raw = rawDocumentOf(resource);
  if (raw && ctx.desired.documents[raw.index] === raw.doc) return raw.doc;
  if (!ctx.documentsByAddress) {
    const byAddress = new Map<string, RawDocument>();
    for (const d of ctx.desired.documents) if (!byAddress.has(d.address)) byAddress.set(d.address, d);
    ctx.documentsByAddress = byAddress;
  }
  return ctx.documentsByAddress.get(addressOfResource(resource));
}

/**
 * Whether the manifest wrote this path (as opposed to a default filled in by the loader), so that
 * only declared fields are compared. Without the raw document (hand-built desired state), a value is
 * taken as declared when it is not empty.
 */
export function isDeclared(ctx: PlanContext, resource: DesiredResource, path: string, value: unknown): boolean {
  const doc = rawDocument(ctx, resource);
  if (doc) {
    let node: unknown = doc.body;
    for (const part of path.split('.')) {
      if (node === null || typeof node !== 'object') return false;
      node = (node as Record<string, unknown>)[part];
    }
    return node !== undefined;
  }
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return value !== undefined;
}

/** Where a diagnostic about `path` of a resource points: the value if the loader knew it, else the document. */
export function locate(ctx: PlanContext, resource: DesiredResource, path?: string): Diagnostic['location'] {
  const doc = rawDocument(ctx, resource);
  return (path && doc?.locations[path]) || resource.meta.source;
}

export function addDiagnostic(
  ctx: PlanContext,
  resource: DesiredResource,
  severity: Diagnostic['severity'],
  code: string,
  message: string,
  path?: string,
): void {
  const address = addressOfResource(resource);
  ctx.diagnostics.push({ severity, code, message, address, path, location: locate(ctx, resource, path) });
  if (severity === 'error') ctx.failed.add(address);
}

export function addressOfResource(resource: DesiredResource): string {
  return addressOf(resource);
}

/**
 * Prune and adoption as the Policies decide them for one resource, with the same rules automation
 * gates on (`src/policy/settings.ts`: most restrictive wins, off by default), so the planner never
 * plans what automation would then hold for the same reason.
 */
export function automation(
  ctx: PlanContext,
  kind: ResourceKind,
  name: string,
  labels?: Record<string, string>,
): { prune: boolean; adopt: boolean } {
  // What the repository's Policies say; callers cap it with ctx.options.limits and say which one refused.
  return effectiveSettings(ctx.desired, `${kind}/${name}`, labels);
}
