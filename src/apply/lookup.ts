import type { ResourceKind } from '../model/kinds.js';
import type { HostRecord, ObservedClass, PoolRecord, Ref } from '../model/observed.js';
import type { XapiCaller } from '../xapi/caller.js';
import { ApplyError } from './errors.js';
import { isOwnedBy } from './marks.js';
import { allRecords, recordsByName, tryByUuid } from './xapi.js';

/** What the lookup needs to know of each resource kind (from the registry, see apply/executor.ts). */
export interface LookupKind {
  /** The XAPI class that holds the kind's main object. */
  cls: ObservedClass;
  /**
   * Whether xops creates (and so marks) its objects. A manifest reference to a kind xops never
   * creates (hosts, the pool) may predate the mark, so it falls back to the object's name.
   */
  created: boolean;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A reference as apply may find it in an action's `desired`: the manifest's Reference
 * (`{name, target}`), optionally resolved by the planner to the object's `uuid` (or `ref`), or a
 * bare string (a uuid or a name_label).
 */
export type RefLike = string | { name?: string; target?: 'manifest' | 'live'; uuid?: string; ref?: Ref; checked?: boolean };

/**
 * Finds pool objects while an apply runs. References are resolved at the moment they are needed,
 * because an object a reference names may be created earlier in the same run. Only what cannot
 * change during a run (the pool ref, the host list) is cached.
 */
export class Lookup {
  private readonly caller: XapiCaller;
  private readonly repo: string | undefined;
  private readonly kinds: Readonly<Record<ResourceKind, LookupKind>>;
  private poolRef?: Promise<Ref>;
  private hostList?: Promise<[Ref, HostRecord][]>;

  constructor(caller: XapiCaller, repo: string | undefined, kinds: Readonly<Record<ResourceKind, LookupKind>>) {
    this.caller = caller;
    this.repo = repo;
    this.kinds = kinds;
  }

  /** The pool's ref and a fresh record. */
  async pool(): Promise<[Ref, PoolRecord]> {
    this.poolRef ??= this.caller.call<Ref[]>('pool.get_all').then((refs) => {
      if (refs.length !== 1) throw new Error(`expected exactly one pool object, found ${refs.length}`);
      return refs[0]!;
    });
    const ref = await this.poolRef.catch((err) => {
      this.poolRef = undefined;
      throw err;
    });
    return [ref, await this.caller.call<PoolRecord>('pool.get_record', ref)];
  }

  /** Every host of the pool (read once per run). */
  hosts(): Promise<[Ref, HostRecord][]> {
    this.hostList ??= allRecords<HostRecord>(this.caller, 'host');
    return this.hostList.catch((err) => {
      this.hostList = undefined;
      throw err;
    });
  }

  /** Every object of the class that carries this resource's mark (from this repository). */
  async managed<T extends { other_config?: Record<string, string> }>(cls: ObservedClass, address: string): Promise<[Ref, T][]> {
    const all = await allRecords<T>(this.caller, cls);
    return all.filter(([, rec]) => isOwnedBy(rec.other_config, address, this.repo));
  }

  /**
   * The ref of the object a reference names, or undefined when there is none. `from` is the address
   * of the resource asking, for error messages.
   */
  async tryResolve(kind: ResourceKind, value: RefLike, from: string): Promise<Ref | undefined> {
    const cls = this.kinds[kind].cls;
    if (typeof value === 'string') {
      if (value.startsWith('OpaqueRef:')) return value;
      if (UUID_RE.test(value)) {
        const ref = await tryByUuid(this.caller, cls, value);
        if (ref) return ref;
      }
      return this.byName(cls, value, from);
    }
    if (value.uuid) {
      const ref = await tryByUuid(this.caller, cls, value.uuid);
      if (ref) return ref;
    }
    if (value.ref && value.ref !== 'OpaqueRef:NULL') return value.ref;
    if (!value.name) return undefined;
    if (value.target === 'manifest') {
      const owned = await this.managed(cls, `${kind}/${value.name}`);
      if (owned.length > 1) throw new ApplyError(from, `${kind}/${value.name} matches ${owned.length} marked ${cls} objects`);
      if (owned.length === 1) return owned[0]![0];
      // Hosts and the pool are never created by xops: a manifest reference to them may predate the mark.
      if (this.kinds[kind].created) return undefined;
    }
    if (UUID_RE.test(value.name)) {
      const ref = await tryByUuid(this.caller, cls, value.name);
      if (ref) return ref;
    }
    return this.byName(cls, value.name, from);
  }

  /** Like tryResolve, but a reference that names nothing is an ApplyError. */
  async resolve(kind: ResourceKind, value: RefLike, from: string): Promise<Ref> {
    const ref = await this.tryResolve(kind, value, from);
    if (ref === undefined) {
      const label = typeof value === 'string' ? value : (value.name ?? value.uuid ?? '?');
      throw new ApplyError(from, `${kind} '${label}' does not exist in the pool`);
    }
    return ref;
  }

  private async byName(cls: ObservedClass, name: string, from: string): Promise<Ref | undefined> {
    const found = await recordsByName<{ is_a_template?: boolean; is_a_snapshot?: boolean }>(this.caller, cls, name);
    // Snapshots share their VM's name; they are never what a reference means.
    const candidates = found.filter(([, rec]) => !rec.is_a_snapshot);
    if (candidates.length > 1) throw new ApplyError(from, `${cls} name '${name}' is ambiguous: ${candidates.length} objects carry it`);
    return candidates[0]?.[0];
  }
}
