/**
 * What planning a VM manifest did, kept between plans so that a controller planning 10,000 VMs
 * per request or reconcile plans again only the manifests that changed.
 *
 * A VM's planning is a function of its own manifest, of the pool's state, of the other kinds'
 * manifests and of the plan's options, plus order-dependent shared state (capacity reserved by the
 * VMs planned before it, anti-affinity placement over every VM manifest). Its effects on the plan
 * context are appends (actions, refusals, diagnostics, failed addresses, guest addresses) and
 * first-wins records (objects read, lookups, pool objects in use). So:
 * - the *guard* is everything but the VM manifests: every class map of the observed state by
 *   identity (the controller's event-fed state is sealed: a map is replaced when an object of its
 *   class changes), the other kinds' desired resources and the options, as text;
 * - an entry is kept per built VM document (the loader returns the same object for an unchanged
 *   manifest, see loader.ts buildGuard) and guard, holding the effects recorded while it was planned;
 * - a VM whose planning touched the order-dependent state is never kept (ctx.trace.uncacheable);
 * - replaying an entry makes the same appends and first-wins records in the same order, so the
 *   plan is the one a fresh planner makes: `test/plan/memo.test.ts` plans with and without a memo
 *   through changes of manifests, pool and policies and compares them action for action.
 * Unsealed states (a one-off snapshot, a hand-built state) are never memoised.
 */
import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredResource, DesiredState } from '../model/desired.js';
import { LEASE_KEY, type ObservedClass, type ObservedState, type Ref, type XapiRecord } from '../model/observed.js';
import type { Refusal } from '../model/plan.js';
import { isSealed } from '../model/sealed.js';
import type { DraftAction, LiveUser, Ownership, OwnedClass, PlanContext, PlanTrace, ResolvedOptions } from './context.js';

/** What one phase (finding the owner, planning) of one VM did to the context. */
interface Effects {
  actions: DraftAction[];
  refused: Refusal[];
  diagnostics: Diagnostic[];
  failed: string[];
  guests: [string, string[]][];
  /**
   * The records read. The guard keeps every class map the same but the pool's, which may be an
   * equivalent copy (samePoolForVMs): a pool record is replayed as the state's record of its ref.
   */
  reads: [XapiRecord, ObservedClass, Ref | undefined][];
  lookups: [string, string][];
  users: [Ref, LiveUser][];
  owner?: Ownership<OwnedClass>;
}

interface Entry {
  guard: number;
  owner?: Effects;
  plan?: Effects;
}

interface Guard {
  id: number;
  maps: object[];
  text: string;
}

/** Counts since the memo was made (tests and the bench read them). */
export interface PlanMemoStats {
  /** VM phases answered from an entry, and phases planned afresh. */
  replayed: number;
  planned: number;
  /** Fresh phases that could not be kept (they reserved capacity or placed an anti-affinity member). */
  uncacheable: number;
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
  readonly stats: PlanMemoStats = { replayed: 0, planned: 0, uncacheable: 0 };

  /** The session for one plan, or undefined when this plan's state cannot be memoised. */
  session(desired: DesiredState, observed: ObservedState, options: ResolvedOptions): MemoSession | undefined {
    const maps = Object.values(observed.records) as object[];
    if (!maps.every((m) => isSealed(m))) return undefined;
    const text = guardText(desired, options);
    const classes = Object.keys(observed.records);
    let guard = this.guards.find((g) => g.text === text && g.maps.length === maps.length && g.maps.every((m, i) => m === maps[i]));
    if (!guard) {
      guard = this.guards.find((g) => g.text === text && g.maps.length === maps.length && g.maps.every((m, i) => m === maps[i] || (classes[i] === 'pool' && samePoolForVMs(g.maps[i] as Map<Ref, XapiRecord>, maps[i] as Map<Ref, XapiRecord>))));
      // Checked once: the next plan of this state finds it by identity.
      if (guard) guard.maps = maps;
    }
    if (!guard) {
      guard = { id: ++this.lastId, maps, text };
      this.guards.unshift(guard);
      if (this.guards.length > GUARDS_KEPT) this.guards.pop();
    }
    return new MemoSession(this, guard.id);
  }

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

  constructor(memo: PlanMemo, guard: number) {
    this.memo = memo;
    this.guard = guard;
  }

  /** findOwned for a VM document, memoised. */
  owner<C extends OwnedClass>(ctx: PlanContext, doc: DesiredResource, find: () => Ownership<C>): Ownership<C> {
    const kept = this.memo.entry(doc, this.guard, false)?.owner;
    if (kept) {
      this.memo.stats.replayed++;
      replay(ctx, kept);
      return kept.owner as Ownership<C>;
    }
    let result: Ownership<C> | undefined;
    const effects = this.record(ctx, () => (result = find()));
    if (effects) this.memo.entry(doc, this.guard, true)!.owner = { ...effects, owner: result };
    return result!;
  }

  /** The kind's plan for a VM document, memoised. */
  plan(ctx: PlanContext, doc: DesiredResource, plan: () => void): void {
    const kept = this.memo.entry(doc, this.guard, false)?.plan;
    if (kept) {
      this.memo.stats.replayed++;
      replay(ctx, kept);
      return;
    }
    const effects = this.record(ctx, plan);
    if (effects) this.memo.entry(doc, this.guard, true)!.plan = effects;
  }

  /** Runs `fn` with a trace on the context; its effects, or undefined when they may not be kept. */
  private record(ctx: PlanContext, fn: () => void): Effects | undefined {
    this.memo.stats.planned++;
    const at = { actions: ctx.actions.length, refused: ctx.refused.length, diagnostics: ctx.diagnostics.length, failed: ctx.failed.size, guests: ctx.guests.size };
    const trace: PlanTrace = { reads: [], lookups: [], users: [], uncacheable: false };
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
    return {
      // Copies: later passes (ordering, digests, automation) build on these objects.
      actions: structuredClone(ctx.actions.slice(at.actions)),
      refused: structuredClone(ctx.refused.slice(at.refused)),
      diagnostics: structuredClone(ctx.diagnostics.slice(at.diagnostics)),
      failed: ctx.failed.size > at.failed ? [...ctx.failed].slice(at.failed) : [],
      guests: ctx.guests.size > at.guests ? [...ctx.guests].slice(at.guests) : [],
      reads: firstOfEach(trace.reads, false).map(([rec, cls]) => [rec, cls, cls === 'pool' ? refOf(ctx, cls, rec) : undefined]),
      lookups: firstOfEach(trace.lookups, true),
      users: firstOfEach(trace.users, false),
    };
  }
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
function replay(ctx: PlanContext, e: Effects): void {
  for (const a of e.actions) ctx.actions.push(structuredClone(a));
  for (const r of e.refused) ctx.refused.push(structuredClone(r));
  for (const d of e.diagnostics) ctx.diagnostics.push(structuredClone(d));
  for (const f of e.failed) ctx.failed.add(f);
  for (const [k, v] of e.guests) ctx.guests.set(k, v);
  for (const [rec, cls, ref] of e.reads) {
    if (ref === undefined) ctx.readObjects.set(rec, cls);
    else {
      const now = ctx.index.get(cls, ref);
      if (now) ctx.readObjects.set(now, cls);
    }
  }
  for (const [key, text] of e.lookups) ctx.lookups.set(key, text);
  for (const [ref, user] of e.users) if (!ctx.liveUsers.has(ref)) ctx.liveUsers.set(ref, user);
}

/**
 * The ref of a record read: `read()` traces the record, and the snapshot holds each record once.
 * Found through the uuid index, which every class has.
 */
function refOf(ctx: PlanContext, cls: ObservedClass, rec: XapiRecord): Ref {
  return ctx.index.byUuid(cls, rec.uuid)![0];
}

/**
 * Whether two pool class maps are the same for planning: the controller renews its lease in the
 * pool's other_config every few seconds, which replaces the map without changing anything a plan
 * of VMs reads (default SR, HA, the marks kept in other_config).
 */
function samePoolForVMs(a: Map<Ref, XapiRecord>, b: Map<Ref, XapiRecord>): boolean {
  if (a.size !== b.size) return false;
  for (const [ref, rec] of a) {
    const other = b.get(ref);
    if (!other || withoutLeases(rec) !== withoutLeases(other)) return false;
  }
  return true;
}

function withoutLeases(rec: XapiRecord): string {
  const oc = (rec['other_config'] ?? {}) as Record<string, string>;
  const kept = Object.fromEntries(Object.entries(oc).filter(([k]) => k !== LEASE_KEY));
  return JSON.stringify({ ...rec, other_config: kept });
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
