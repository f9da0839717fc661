import type { ObservedClass, ObservedRecordTypes, ObservedState, Ref } from './observed.js';
import { MANAGED_KEY } from './observed.js';

/** Lookups over a snapshot by uuid, by name_label and by xops' ownership mark. Pure and cheap to build. */
export interface ObservedIndex {
  get<C extends ObservedClass>(cls: C, ref: Ref): ObservedRecordTypes[C] | undefined;
  byUuid<C extends ObservedClass>(cls: C, uuid: string): [Ref, ObservedRecordTypes[C]] | undefined;
  /** Every object of the class with exactly this name_label (XAPI allows duplicates). */
  byName<C extends ObservedClass>(cls: C, name: string): [Ref, ObservedRecordTypes[C]][];
  /** Objects whose other_config carries `xops.managed = <address>`. */
  managed(address: string): { cls: ObservedClass; ref: Ref }[];
  /** Every managed object of a class, keyed by its address. */
  managedOf<C extends ObservedClass>(cls: C): Map<string, [Ref, ObservedRecordTypes[C]][]>;
}

export function indexObserved(state: ObservedState): ObservedIndex {
  const uuidIdx = new Map<string, Map<string, Ref>>();
  const nameIdx = new Map<string, Map<string, Ref[]>>();
  const managedIdx = new Map<string, { cls: ObservedClass; ref: Ref }[]>();
  for (const cls of Object.keys(state.records) as ObservedClass[]) {
    const byU = new Map<string, Ref>();
    const byN = new Map<string, Ref[]>();
    for (const [ref, rec] of state.records[cls]) {
      byU.set(rec.uuid, ref);
      const label = rec['name_label'];
      if (typeof label === 'string') {
        const list = byN.get(label);
        if (list) list.push(ref);
        else byN.set(label, [ref]);
      }
      const oc = rec['other_config'] as Record<string, string> | undefined;
      const mark = oc?.[MANAGED_KEY];
      if (mark) {
        const list = managedIdx.get(mark);
        if (list) list.push({ cls, ref });
        else managedIdx.set(mark, [{ cls, ref }]);
      }
    }
    uuidIdx.set(cls, byU);
    nameIdx.set(cls, byN);
  }
  const get = <C extends ObservedClass>(cls: C, ref: Ref) =>
    state.records[cls].get(ref) as ObservedRecordTypes[C] | undefined;
  return {
    get,
    byUuid(cls, uuid) {
      const ref = uuidIdx.get(cls)?.get(uuid);
      const rec = ref === undefined ? undefined : get(cls, ref);
      return ref !== undefined && rec ? [ref, rec] : undefined;
    },
    byName(cls, name) {
      return (nameIdx.get(cls)?.get(name) ?? []).flatMap((ref) => {
        const rec = get(cls, ref);
        return rec ? [[ref, rec] as [Ref, NonNullable<typeof rec>]] : [];
      });
    },
    managed(address) {
      return managedIdx.get(address) ?? [];
    },
    managedOf(cls) {
      const out = new Map<string, [Ref, ObservedRecordTypes[typeof cls]][]>();
      for (const [address, list] of managedIdx) {
        for (const item of list) {
          if (item.cls !== cls) continue;
          const rec = get(cls, item.ref);
          if (!rec) continue;
          const entry = out.get(address);
          if (entry) entry.push([item.ref, rec]);
          else out.set(address, [[item.ref, rec]]);
        }
      }
      return out;
    },
  };
}
