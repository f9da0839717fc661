/**
 * What planning a VM manifest did, kept between plans so that a controller planning 10,000 VMs
 * per request or reconcile plans again only the manifests that changed.
 *
 * A VM's planning is a function of its own manifest, of what it asks of the pool's state, of the
 * other kinds' manifests and of the plan's options, plus order-dependent shared state (capacity
 * reserved by the VMs planned before it, anti-affinity placement over every VM manifest). Its
 * effects on the plan context are appends (actions, refusals, diagnostics, failed addresses, guest
 * addresses) and first-wins records (objects read, lookups, pool objects in use). So:
 * - the *guard* is the other kinds' desired resources and the options, as text;
 * - an entry is kept per built VM document (the loader returns the same object for an unchanged
 *   manifest, see loader.ts buildGuard) and guard, holding the effects recorded while it was
 *   planned and every question it asked of the pool's state with its answer (trace.ts);
 * - a later plan replays the entry when the state is the one it was recorded or last checked
 *   against (every class map the same), or when asking its questions again gets the same records;
 *   else the VM is planned afresh;
 * - a VM whose planning touched the order-dependent state is never kept (ctx.trace.uncacheable);
 * - replaying an entry makes the same appends and first-wins records in the same order, so the
 *   plan is the one a fresh planner makes: `test/plan/memo.test.ts` plans with and without a memo
 *   through changes of manifests, pool and policies and compares them action for action.
 * Unsealed states (a one-off snapshot, a hand-built state) are never memoised: only a sealed
 * (copy-on-write) state keeps a record's identity exactly as long as the object is unchanged.
 */
import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredResource, DesiredState } from '../model/desired.js';
import type { ObservedClass, ObservedState, Ref, XapiRecord } from '../model/observed.js';
import type { Refusal } from '../model/plan.js';
import { isSealed } from '../model/sealed.js';
import type { DraftAction, LiveUser, Ownership, OwnedClass, PlanContext, PlanTrace, Query, ResolvedOptions } from './context.js';
import { PoolEquivalence, sameAnswers } from './trace.js';
import { changeSet, dependenciesOf, dependencyKey, stateChanges, touches, type ChangeSet, type Dependencies } from './state-changes.js';
import { indexObserved, type ObservedIndex } from '../model/observed-index.js';
import { addressOfResource } from './context.js';

/** What one phase (finding the owner, planning) of one VM did to the context. */
interface Effects {
  actions: DraftAction[];
  refused: Refusal[];
  diagnostics: Diagnostic[];
  failed: string[];
  guests: [string, string[]][];
  /**
   * The records read, the same objects in any state the queries hold for, except a pool record,
   * which may be an equivalent copy (trace.ts PoolEquivalence): that one is replayed as the state's
   * record of its ref.
   */
  reads: [XapiRecord, ObservedClass, Ref | undefined][];
  lookups: [string, string][];
  users: [Ref, LiveUser][];
  /** What the phase asked of the pool's state, with the answers. */
  queries: Query[];
  /** The pool objects those answers depend on, as state-changes.ts keys, by class. */
  deps: Dependencies;
  /** The questions no StateChanges key covers (other manifests' ownership, derived values): asked again each time. */
  rechecks: Query[];
  /**
   * When planning asked for its own manifest's ownership (a VM's plan does): the ownership it was
   * given, by identity (null: none). Not among `rechecks`: the session compares it with the one the
   * ownership pass found at the manifest's position in this plan, which costs no lookup.
   */
  selfOwner?: Ownership<OwnedClass> | null;
  /** The state (see PlanMemo.stateOf) its answers are known to hold for. */
  validAt: number;
  /** No action, refusal, diagnostic, failure or guest address: a replay only notes the users (most VMs in sync). */
  quiet: boolean;
  owner?: Ownership<OwnedClass>;
}

interface Entry {
  guard: number;
  owner?: Effects;
  plan?: Effects;
}

interface Guard {
  id: number;
  text: string;
}

interface KnownState {
  id: number;
  classes: string[];
  maps: object[];
}

/** Counts since the memo was made (tests and the bench read them). */
export interface PlanMemoStats {
  /** VM phases answered from an entry, and phases planned afresh. */
  replayed: number;
  planned: number;
  /** Fresh phases that could not be kept (they reserved capacity or placed an anti-affinity member). */
  uncacheable: number;
  /** Replays whose questions were asked again of a newer state (and got the same answers). */
  rechecked: number;
  /** Replays carried to a newer state because none of the objects they depend on changed (no question asked again). */
  unaffected: number;
}

/** Guards remembered at once: the commit in force, a pull request's head and base, one more. */
const GUARDS_KEPT = 4;
/** Entries kept per VM document (one per guard it was planned under, newest first). */
const ENTRIES_PER_DOC = 2;

/**
 * Per-VM planning work kept between plans (PlanOptions.memo). One per controller, shared by its
 * reconciles and `POST /plan`. Bounded: entries live as long as the built documents they are
 * keyed by (the loader's cache holds those), at most two per document.
 */
export class PlanMemo {
  private readonly guards: Guard[] = [];
  private lastId = 0;
  private readonly entries = new WeakMap<DesiredResource, Entry[]>();
  readonly stats: PlanMemoStats = { replayed: 0, planned: 0, uncacheable: 0, rechecked: 0, unaffected: 0 };
  private readonly states: KnownState[] = [];
  private lastState = 0;
  /** @internal */
  readonly pools = new PoolEquivalence();

  /** The session for one plan, or undefined when this plan's state cannot be memoised. */
  session(desired: DesiredState, observed: ObservedState, options: ResolvedOptions, objects = true): MemoSession | undefined {
    const classes = Object.keys(observed.records);
    const maps = Object.values(observed.records) as object[];
    if (!maps.every((m) => isSealed(m))) return undefined;
    const text = guardText(desired, options);
    let guard = this.guards.find((g) => g.text === text);
    if (!guard) {
      guard = { id: ++this.lastId, text };
      this.guards.unshift(guard);
      if (this.guards.length > GUARDS_KEPT) this.guards.pop();
    }
    return new MemoSession(this, guard.id, this.stateOf(classes, maps), objects);
  }

  /** A number per state seen (by its class maps), so that an entry checked against it is not checked again. */
  private stateOf(classes: string[], maps: object[]): number {
    let known = this.states.find((s) => s.maps.length === maps.length && s.maps.every((m, i) => m === maps[i]));
    if (!known) {
      known = { id: ++this.lastState, classes, maps };
      this.states.unshift(known);
      if (this.states.length > GUARDS_KEPT) this.states.pop();
    }
    return known.id;
  }

  /**
   * @internal What changed from state `from` to state `to` (both still remembered), as dependency
   * keys (state-changes.ts); undefined when `from` is forgotten or the two hold different classes.
   * Kept per pair, for the pairs of the states remembered.
   */
  changesBetween(from: number, to: number): ReadonlySet<string> | undefined {
    const pair = `${from}>${to}`;
    if (this.changes.has(pair)) return this.changes.get(pair);
    const a = this.states.find((s) => s.id === from);
    const b = this.states.find((s) => s.id === to);
    const keys = a && b ? stateChanges(a, b, this.pools) : undefined;
    this.changes.set(pair, keys);
    if (this.changes.size > GUARDS_KEPT * GUARDS_KEPT) this.changes.delete(this.changes.keys().next().value!);
    return keys;
  }
  private readonly changes = new Map<string, ReadonlySet<string> | undefined>();

  /** @internal */
  entry(doc: DesiredResource, guard: number, create: boolean): Entry | undefined {
    let list = this.entries.get(doc);
    let found = list?.find((e) => e.guard === guard);
    if (!found && create) {
      found = { guard };
      if (!list) this.entries.set(doc, (list = []));
      list.unshift(found);
      if (list.length > ENTRIES_PER_DOC) list.pop();
    }
    return found;
  }
}

/** One plan's use of a PlanMemo: runs a VM's phase, or replays what it did last time. */
export class MemoSession {
  private readonly memo: PlanMemo;
  private readonly guard: number;
  private readonly state: number;
  /** Whether the plan builds observed.objects: without, the objects read and lookups need no replay. */
  private readonly objects: boolean;
  /** The state's index without tracing, for checking entries. */
  private base: ObservedIndex | undefined;
  /** The changes since the state the last entry checked held for (entries mostly hold for the same one). */
  private changesFrom = -1;
  private changes: ChangeSet | undefined;
  /** Inputs of derived values in this state, computed once per plan when an entry is checked. */
  private readonly derived = new Map<string, readonly unknown[]>();
  /** The ownership the pass found for the manifest at each position of its kind's list (see owner). */
  private readonly ownedDocs: DesiredResource[] = [];
  private readonly ownedAs: (Ownership<OwnedClass> | null)[] = [];
  /** Set when two manifests share an address: a position's ownership may then not be the one planning reads. */
  private repeated = false;

  constructor(memo: PlanMemo, guard: number, state: number, objects: boolean) {
    this.memo = memo;
    this.guard = guard;
    this.state = state;
    this.objects = objects;
  }

  /**
   * Whether kept effects hold in this plan's state: recorded or checked against it, or the same
   * answers now. `selfOwner`: this plan's ownership of the manifest, when known without a lookup.
   */
  private holds(ctx: PlanContext, kept: Effects, selfOwner?: Ownership<OwnedClass> | null): boolean {
    if (kept.validAt === this.state) return true;
    this.base ??= indexObserved(ctx.observed);
    // Most of a churning pool is unchanged: when no object an answer came from changed since the
    // state the entry holds for, only the questions about other manifests and derived values are asked again.
    if (kept.validAt !== this.changesFrom) {
      this.changesFrom = kept.validAt;
      const keys = this.memo.changesBetween(kept.validAt, this.state);
      this.changes = keys && changeSet(keys);
    }
    // Its own ownership the same object: the same answer. Otherwise every question is asked again.
    const sameSelf = kept.selfOwner === undefined || (selfOwner !== undefined && selfOwner === kept.selfOwner);
    if (sameSelf && this.changes && !touches(kept.deps, this.changes)) {
      if (kept.rechecks.length > 0 && !sameAnswers(kept.rechecks, ctx, this.base, this.derived, this.memo.pools)) return false;
      this.memo.stats.unaffected++;
    } else {
      if (!sameAnswers(kept.queries, ctx, this.base, this.derived, this.memo.pools)) return false;
      this.memo.stats.rechecked++;
    }
    kept.validAt = this.state;
    return true;
  }

  /** The plan has two manifests with one address: positions no longer tell a manifest's ownership. */
  addressRepeated(): void {
    this.repeated = true;
  }

  /** findOwned for a VM document, memoised; `at`: its position in its kind's list. */
  owner<C extends OwnedClass>(ctx: PlanContext, doc: DesiredResource, find: () => Ownership<C>, at?: number): Ownership<C> {
    const kept = this.memo.entry(doc, this.guard, false)?.owner;
    let result: Ownership<C> | undefined;
    if (kept && this.holds(ctx, kept)) {
      this.memo.stats.replayed++;
      replay(ctx, kept, this.objects);
      result = kept.owner as Ownership<C>;
    } else {
      const effects = this.record(ctx, () => (result = find()));
      if (effects) this.memo.entry(doc, this.guard, true)!.owner = { ...effects, owner: result };
    }
    if (at !== undefined) {
      this.ownedDocs[at] = doc;
      this.ownedAs[at] = result ?? null;
    }
    return result!;
  }

  /** The kind's plan for a VM document, memoised; `at`: its position in its kind's list, as given to owner. */
  plan(ctx: PlanContext, doc: DesiredResource, plan: () => void, at?: number): void {
    const self = at !== undefined && !this.repeated && this.ownedDocs[at] === doc ? this.ownedAs[at] : undefined;
    const kept = this.memo.entry(doc, this.guard, false)?.plan;
    if (kept && this.holds(ctx, kept, self)) {
      this.memo.stats.replayed++;
      replay(ctx, kept, this.objects);
      return;
    }
    const effects = this.record(ctx, plan, addressOfResource(doc));
    if (effects) this.memo.entry(doc, this.guard, true)!.plan = effects;
  }

  /** Runs `fn` with a trace on the context; its effects, or undefined when they may not be kept. */
  private record(ctx: PlanContext, fn: () => void, own?: string): Effects | undefined {
    this.memo.stats.planned++;
    const at = { actions: ctx.actions.length, refused: ctx.refused.length, diagnostics: ctx.diagnostics.length, failed: ctx.failed.size, guests: ctx.guests.size };
    const trace: PlanTrace = { queries: [], reads: [], lookups: [], users: [], uncacheable: false };
    const outer = ctx.trace;
    ctx.trace = trace;
    try {
      fn();
    } finally {
      ctx.trace = outer;
    }
    // Appends only: a phase that took something back (a capacity refusal) was uncacheable anyway.
    if (trace.uncacheable || ctx.actions.length < at.actions) {
      this.memo.stats.uncacheable++;
      return undefined;
    }
    const queries = distinctQueries(trace.queries);
    const self = own === undefined ? undefined : queries.find((q) => q[0] === 'owner' && q[2] === own);
    const quiet = ctx.actions.length === at.actions && ctx.refused.length === at.refused && ctx.diagnostics.length === at.diagnostics && ctx.failed.size === at.failed && ctx.guests.size === at.guests;
    return {
      quiet,
      // Copies: later passes (ordering, digests, automation) build on these objects.
      actions: structuredClone(ctx.actions.slice(at.actions)),
      refused: structuredClone(ctx.refused.slice(at.refused)),
      diagnostics: structuredClone(ctx.diagnostics.slice(at.diagnostics)),
      failed: ctx.failed.size > at.failed ? [...ctx.failed].slice(at.failed) : [],
      guests: ctx.guests.size > at.guests ? [...ctx.guests].slice(at.guests) : [],
      reads: distinctReads(trace.reads),
      lookups: firstOfEach(trace.lookups, true),
      users: firstOfEach(trace.users, false),
      queries,
      deps: dependenciesOf(queries),
      rechecks: queries.filter((q) => q !== self && dependencyKey(q) === undefined),
      // Asked while the plan's ownership pass was done: what ctx.owners holds now is what it was given.
      ...(self ? { selfOwner: (Map.prototype.get.call(ctx.owners, own) as Ownership<OwnedClass> | undefined) ?? null } : {}),
      validAt: this.state,
    };
  }
}

/** The questions without repeats: the state does not change while one VM is planned, so a repeat has the first's answer. */
function distinctQueries(queries: Query[]): Query[] {
  const seen = new Set<string>();
  const out: Query[] = [];
  for (const q of queries) {
    const key = `${q[0]}\0${q[1]}\0${q[2]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(q);
  }
  return out;
}

/** The records read, each once (its first read), with the ref of a pool record (see Effects.reads). */
function distinctReads(reads: [XapiRecord, ObservedClass, Ref][]): Effects['reads'] {
  const seen = new Set<XapiRecord>();
  const out: Effects['reads'] = [];
  for (const [rec, cls, ref] of reads) {
    if (seen.has(rec)) continue;
    seen.add(rec);
    out.push([rec, cls, cls === 'pool' ? ref : undefined]);
  }
  return out;
}

/**
 * The records a replay must make, without the repeats that change nothing: a Map keeps a key's
 * first position whatever is set again, so only the first of each key matters, with the last
 * value when `lastValue` (a lookup: the last answer counts) and the first otherwise (first wins).
 */
function firstOfEach<K, V>(pairs: [K, V][], lastValue: boolean): [K, V][] {
  if (pairs.length < 2) return pairs;
  const out = new Map<K, V>();
  for (const [k, v] of pairs) if (lastValue || !out.has(k)) out.set(k, v);
  return [...out];
}

/** Makes the appends and first-wins records a phase made, in its order. */
function replay(ctx: PlanContext, e: Effects, objects: boolean): void {
  if (e.quiet) {
    for (const [ref, user] of e.users) if (!ctx.liveUsers.has(ref)) ctx.liveUsers.set(ref, user);
  } else replayAppends(ctx, e);
  // Only observed.objects is built from these.
  if (!objects) return;
  const { records, classes } = ctx.readObjects;
  for (const [rec, cls, ref] of e.reads) {
    const now = ref === undefined ? rec : ctx.index.get(cls, ref);
    if (!now) continue;
    records.push(now);
    classes.push(cls);
  }
  for (const [key, text] of e.lookups) ctx.lookups.set(key, text);
}

function replayAppends(ctx: PlanContext, e: Effects): void {
  for (const a of e.actions) ctx.actions.push(structuredClone(a));
  for (const r of e.refused) ctx.refused.push(structuredClone(r));
  for (const d of e.diagnostics) ctx.diagnostics.push(structuredClone(d));
  for (const f of e.failed) ctx.failed.add(f);
  for (const [k, v] of e.guests) ctx.guests.set(k, v);
  for (const [ref, user] of e.users) if (!ctx.liveUsers.has(ref)) ctx.liveUsers.set(ref, user);
}


/** Everything a VM's planning reads besides its own manifest and the pool, as text. */
function guardText(desired: DesiredState, options: ResolvedOptions): string {
  const { vms: _vms, documents: _documents, source: _source, ...others } = desired;
  return JSON.stringify({
    others,
    repo: options.repo,
    adopt: options.adopt,
    prune: options.prune,
    migrateOnAffinity: options.migrateOnAffinity,
    limits: options.limits,
    // None found and none looked for plan alike.
    changedCredentials: options.changedCredentials?.size ? [...options.changedCredentials].sort() : undefined,
  });
}
