import type { ObservedClass, ObservedRecordTypes, ObservedState, Ref, XapiRecord } from './observed.js';
import { MANAGED_KEY } from './observed.js';
import { isSealed, sealedMemo } from './sealed.js';

/** Lookups over a snapshot by uuid, by name_label and by xops' ownership mark. Pure and cheap to build. */
export interface ObservedIndex {
  get<C extends ObservedClass>(cls: C, ref: Ref): ObservedRecordTypes[C] | undefined;
  byUuid<C extends ObservedClass>(cls: C, uuid: string): [Ref, ObservedRecordTypes[C]] | undefined;
  /** Every object of the class with exactly this name_label (XAPI allows duplicates). */
  byName<C extends ObservedClass>(cls: C, name: string): [Ref, ObservedRecordTypes[C]][];
  /** Objects whose other_config carries `xops.managed = <address>`. */
  managed(address: string): { cls: ObservedClass; ref: Ref }[];
  /** The first object of a class (the pool, which is one), or undefined when there is none. */
  first<C extends ObservedClass>(cls: C): [Ref, ObservedRecordTypes[C]] | undefined;
  /** Refs of this class whose other_config carries `xops.managed = <address>`, in the class's order. */
  managedIn(cls: ObservedClass, address: string): readonly Ref[];
  /** Every managed object of a class, keyed by its address. */
  managedOf<C extends ObservedClass>(cls: C): Map<string, [Ref, ObservedRecordTypes[C]][]>;
  /** The `xops.managed` addresses objects of this class carry, each once. */
  markedIn(cls: ObservedClass): Iterable<string>;
}

/**
 * One class's lookups, each built on first use (a plan looks most classes up by ref only: their
 * records are reached from a VM); kept per class map when the map is sealed (see sealed.ts).
 */
class ClassIndex {
  private readonly records: Map<Ref, XapiRecord>;
  private uuids?: Map<string, Ref>;
  private names?: Map<string, Ref[]>;
  private marks?: Map<string, Ref[]>;

  constructor(records: Map<Ref, XapiRecord>, from?: { index: ClassIndex; changed: readonly [XapiRecord, XapiRecord][] }) {
    this.records = records;
    if (!from) return;
    // A lookup answers in refs, in the map's order: records replaced in place (same refs, same
    // order) that keep their key leave it as it was, and it is shared instead of built again.
    const kept = (keyOf: (rec: XapiRecord) => unknown) => from.changed.every(([old, now]) => keyOf(old) === keyOf(now));
    if (from.index.uuids && kept(uuidOf)) this.uuids = from.index.uuids;
    if (from.index.names && kept(nameOf)) this.names = from.index.names;
    if (from.index.marks && kept(markOf)) this.marks = from.index.marks;
  }

  get byUuid(): Map<string, Ref> {
    if (!this.uuids) {
      this.uuids = new Map();
      for (const [ref, rec] of this.records) this.uuids.set(rec.uuid, ref);
    }
    return this.uuids;
  }

  get byName(): Map<string, Ref[]> {
    return (this.names ??= this.group(nameOf));
  }

  /** Address → refs of this class carrying that mark. */
  get managed(): Map<string, Ref[]> {
    return (this.marks ??= this.group(markOf));
  }

  private group(keyOf: (rec: XapiRecord) => unknown): Map<string, Ref[]> {
    const out = new Map<string, Ref[]>();
    for (const [ref, rec] of this.records) {
      const key = keyOf(rec);
      if (typeof key !== 'string') continue;
      const list = out.get(key);
      if (list) list.push(ref);
      else out.set(key, [ref]);
    }
    return out;
  }
}

const uuidOf = (rec: XapiRecord): unknown => rec.uuid;
const nameOf = (rec: XapiRecord): unknown => rec['name_label'];
const markOf = (rec: XapiRecord): unknown => (rec['other_config'] as Record<string, string> | undefined)?.[MANAGED_KEY] || undefined;

const classIndexes = new WeakMap<Map<Ref, XapiRecord>, ClassIndex>();

/**
 * Tells the index that sealed map `next` is `previous` with the records of `replaced` refs swapped
 * for new ones, nothing added or removed (an event batch changing some VMs' settings): lookups of
 * `previous` already built whose keys (uuid, name, mark) none of them changed are shared by `next`
 * (a VM index of 10,000 records is not grouped again after each apply). Only the lookups and the
 * replaced records are kept, not `previous` itself.
 */
export function indexDerived(next: Map<Ref, XapiRecord>, previous: Map<Ref, XapiRecord>, replaced: Iterable<Ref>): void {
  const index = classIndexes.get(previous);
  if (!index || !isSealed(next) || classIndexes.has(next) || next.size !== previous.size) return;
  const changed: [XapiRecord, XapiRecord][] = [];
  for (const ref of replaced) {
    const old = previous.get(ref);
    const now = next.get(ref);
    if (!old || !now) return;
    changed.push([old, now]);
  }
  classIndexes.set(next, new ClassIndex(next, { index, changed }));
}

function indexClass(records: Map<Ref, XapiRecord>): ClassIndex {
  return new ClassIndex(records);
}

/**
 * The index of a snapshot. A class whose map is sealed (the controller's event-fed state) is
 * indexed once and reused by every plan until an event replaces that map; other classes of the
 * same state and unsealed states are indexed here.
 */
export function indexObserved(state: ObservedState): ObservedIndex {
  const classes = Object.keys(state.records) as ObservedClass[];
  const perClass = new Map<ObservedClass, ClassIndex>();
  const of = (cls: ObservedClass): ClassIndex | undefined => {
    let idx = perClass.get(cls);
    if (!idx) {
      const records = state.records[cls] as Map<Ref, XapiRecord> | undefined;
      if (!records) return undefined;
      idx = sealedMemo(classIndexes, records, indexClass);
      perClass.set(cls, idx);
    }
    return idx;
  };
  const get = <C extends ObservedClass>(cls: C, ref: Ref) =>
    state.records[cls].get(ref) as ObservedRecordTypes[C] | undefined;
  let managedAll: Map<string, { cls: ObservedClass; ref: Ref }[]> | undefined;
  // Across classes, in the order one pass over the state's classes and records meets them.
  const allManaged = () => {
    if (!managedAll) {
      managedAll = new Map();
      for (const cls of classes) {
        for (const [mark, refs] of of(cls)!.managed) {
          const list = managedAll.get(mark);
          const items = refs.map((ref) => ({ cls, ref }));
          if (list) list.push(...items);
          else managedAll.set(mark, items);
        }
      }
    }
    return managedAll;
  };
  return {
    get,
    byUuid(cls, uuid) {
      const ref = of(cls)?.byUuid.get(uuid);
      const rec = ref === undefined ? undefined : get(cls, ref);
      return ref !== undefined && rec ? [ref, rec] : undefined;
    },
    byName(cls, name) {
      return (of(cls)?.byName.get(name) ?? []).flatMap((ref) => {
        const rec = get(cls, ref);
        return rec ? [[ref, rec] as [Ref, NonNullable<typeof rec>]] : [];
      });
    },
    managed(address) {
      return allManaged().get(address) ?? [];
    },
    first(cls) {
      const hit = state.records[cls].entries().next();
      return hit.done ? undefined : (hit.value as [Ref, ObservedRecordTypes[typeof cls]]);
    },
    managedIn(cls, address) {
      return of(cls)?.managed.get(address) ?? [];
    },
    markedIn(cls) {
      return of(cls)?.managed.keys() ?? [];
    },
    managedOf(cls) {
      const out = new Map<string, [Ref, ObservedRecordTypes[typeof cls]][]>();
      for (const [address, list] of allManaged()) {
        for (const item of list) {
          if (item.cls !== cls) continue;
          const ref = item.ref;
          const rec = get(cls, ref);
          if (!rec) continue;
          const entry = out.get(address);
          if (entry) entry.push([ref, rec]);
          else out.set(address, [[ref, rec]]);
        }
      }
      return out;
    },
  };
}
