import { XapiFailure } from './errors.js';
import { NULL_REF, newRef, newUuid } from './ids.js';
import type { ClassSpec, Model, RelationSide } from './model/classes.js';
import { getModel } from './model/classes.js';

/** A field value as the simulator stores it: strings, numbers, booleans, arrays (sets), plain objects (maps). */
export type FieldValue = unknown;

/** A stored row. `rec` is mutated in place; `ver` changes on every mutation so encoders can cache per version. */
export class DbObject {
  readonly ref: string;
  readonly cls: ClassSpec;
  readonly rec: Record<string, FieldValue>;
  readonly createdGen: number;
  modGen: number;
  ver = 0;
  /** Encoding caches, valid while `*Ver === ver`. */
  xml = '';
  xmlVer = -1;
  json = '';
  jsonVer = -1;
  constructor(ref: string, cls: ClassSpec, rec: Record<string, FieldValue>, gen: number) {
    this.ref = ref;
    this.cls = cls;
    this.rec = rec;
    this.createdGen = gen;
    this.modGen = gen;
  }
}

/** What `changesSince` reports for one object (already collapsed as `event.from` requires). */
export interface Change {
  readonly op: 'add' | 'mod' | 'del';
  readonly gen: number;
  readonly cls: ClassSpec;
  readonly ref: string;
  /** Absent for `del`. */
  readonly obj?: DbObject;
}

interface Tombstone {
  readonly cls: ClassSpec;
  readonly createdGen: number;
  readonly delGen: number;
}

const MAX_TOMBSTONES = 100_000;

function cloneDefault(v: unknown): unknown {
  if (Array.isArray(v)) return v.slice();
  if (v !== null && typeof v === 'object') return { ...(v as object) };
  return v;
}

/**
 * The simulator's object store. Every mutation, whether it comes from a XAPI call or from a test poking at it
 * directly, bumps the database generation and is recorded so `event.from` sees it; relation pairs (VBD.VM and
 * VM.VBDs, ...) are kept in step here so behaviour code never has to.
 */
export class SimDatabase {
  readonly model: Model;
  /** The database generation: the first half of an event token. */
  generation = 0;
  private readonly objects = new Map<string, DbObject>();
  private readonly tables = new Map<string, Map<string, DbObject>>();
  private readonly uuidIndex = new Map<string, Map<string, string>>();
  private log: { gen: number; ref: string }[] = [];
  private readonly tombstones = new Map<string, Tombstone>();
  /** Deletions at or before this generation may have been forgotten. */
  private tombstoneHorizon = 0;
  private readonly listeners = new Set<() => void>();
  private notifyScheduled = false;
  private readonly relationCache = new Map<ClassSpec, { reverse: Set<string>; sides: RelationSide[] }>();

  constructor(model: Model = getModel()) {
    this.model = model;
    for (const c of model.classes.values()) {
      this.tables.set(c.name, new Map());
      this.uuidIndex.set(c.name, new Map());
    }
  }

  classOf(name: string): ClassSpec {
    const c = this.model.classes.get(name);
    if (!c) throw new Error(`unknown class ${name}`);
    return c;
  }

  /** The object behind `ref`, of any class. */
  get(ref: string): DbObject | undefined {
    return this.objects.get(ref);
  }

  /** The object behind `ref` if it is of class `cls`; otherwise HANDLE_INVALID, as XAPI answers. */
  expect(cls: string, ref: unknown): DbObject {
    const o = typeof ref === 'string' ? this.objects.get(ref) : undefined;
    if (!o || o.cls.name !== cls) throw new XapiFailure('HANDLE_INVALID', cls, String(ref));
    return o;
  }

  /** The record of `ref` (live, do not mutate: use set/update). */
  record(ref: string): Record<string, FieldValue> {
    const o = this.objects.get(ref);
    if (!o) throw new XapiFailure('HANDLE_INVALID', 'object', ref);
    return o.rec;
  }

  /** All objects of a class, in creation order. */
  all(cls: string): IterableIterator<DbObject> {
    return this.table(cls).values();
  }

  count(cls: string): number {
    return this.table(cls).size;
  }

  refByUuid(cls: string, uuid: string): string | undefined {
    return this.uuidIndex.get(cls)?.get(uuid);
  }

  /** Objects of `cls` whose `name_label` is exactly `label`. */
  findByName(cls: string, label: string): DbObject[] {
    const out: DbObject[] = [];
    for (const o of this.table(cls).values()) if (o.rec.name_label === label) out.push(o);
    return out;
  }

  /** The first object of `cls` named `label`, or throws (for seeds and tests). */
  byName(cls: string, label: string): DbObject {
    const o = this.findByName(cls, label)[0];
    if (!o) throw new Error(`no ${cls} named ${JSON.stringify(label)}`);
    return o;
  }

  /**
   * Adds an object. Missing fields take their datamodel default; reverse sides of relations start empty and are
   * filled from the objects that point here.
   */
  create(cls: string, fields: Record<string, FieldValue> = {}, opts: { ref?: string } = {}): string {
    const spec = this.classOf(cls);
    for (const k in fields) if (!spec.fieldByName.has(k)) throw new Error(`${cls} has no field ${k}`);
    const ref = opts.ref ?? newRef();
    const rec: Record<string, FieldValue> = {};
    const { reverse, sides } = this.relationsOf(spec);
    for (const f of spec.fields) {
      const given = fields[f.name];
      rec[f.name] = reverse.has(f.name) ? [] : given === undefined ? cloneDefault(f.defaultValue) : given;
    }
    if (!rec.uuid) rec.uuid = newUuid();
    const gen = spec.generatesEvents ? ++this.generation : this.generation;
    const obj = new DbObject(ref, spec, rec, gen);
    this.objects.set(ref, obj);
    this.table(cls).set(ref, obj);
    this.uuidIndex.get(cls)!.set(rec.uuid as string, ref);
    if (spec.generatesEvents) this.log.push({ gen, ref });
    for (const side of sides) this.link(side, ref, rec[side.field] as string);
    this.changed();
    return ref;
  }

  /** Sets one field, keeping relations in step; any field may be set, as a test poking at the database would. */
  set(ref: string, field: string, value: FieldValue): void {
    this.update(ref, { [field]: value });
  }

  /** Sets several fields at once (one event), keeping relations and the uuid index in step. */
  update(ref: string, patch: Record<string, FieldValue>): void {
    const o = this.mustGet(ref);
    for (const [k, v] of Object.entries(patch)) {
      if (!o.cls.fieldByName.has(k)) throw new Error(`${o.cls.name} has no field ${k}`);
      const side = this.model.relations.get(`${o.cls.name}.${k}`);
      const old = o.rec[k];
      if (side && old !== v) {
        this.unlink(side, ref, old as string);
        o.rec[k] = v;
        this.link(side, ref, v as string);
      } else {
        o.rec[k] = v;
      }
      if (k === 'uuid' && old !== v) {
        const idx = this.uuidIndex.get(o.cls.name)!;
        idx.delete(old as string);
        idx.set(v as string, ref);
      }
    }
    this.touch(ref);
  }

  /** Changes a map or set field in place through `fn` (a map/set value is never shared between objects). */
  mutate(ref: string, field: string, fn: (value: any) => void): void {
    const o = this.mustGet(ref);
    fn(o.rec[field]);
    this.touch(ref);
  }

  /** Removes an object; the other sides of its relations forget it. */
  destroy(ref: string): void {
    const o = this.mustGet(ref);
    for (const side of this.relationsOf(o.cls).sides) this.unlink(side, ref, o.rec[side.field] as string);
    this.objects.delete(ref);
    this.table(o.cls.name).delete(ref);
    this.uuidIndex.get(o.cls.name)!.delete(o.rec.uuid as string);
    if (o.cls.generatesEvents) {
      const delGen = ++this.generation;
      this.tombstones.set(ref, { cls: o.cls, createdGen: o.createdGen, delGen });
      this.log.push({ gen: delGen, ref });
      if (this.tombstones.size > MAX_TOMBSTONES) {
        for (const [r, t] of this.tombstones) {
          this.tombstones.delete(r);
          this.tombstoneHorizon = t.delGen;
          if (this.tombstones.size <= MAX_TOMBSTONES / 2) break;
        }
      }
    }
    this.changed();
  }

  /** Records a modification of `ref` without changing it (what `event.inject` does). Returns the generation. */
  touch(ref: string): number {
    const o = this.mustGet(ref);
    o.ver++;
    if (o.cls.generatesEvents) {
      o.modGen = ++this.generation;
      this.log.push({ gen: o.modGen, ref });
      this.maybeCompact();
    }
    this.changed();
    return this.generation;
  }

  /** True when deletions after `gen` can no longer all be reported. */
  isTooOld(gen: number): boolean {
    return gen < this.tombstoneHorizon;
  }

  /**
   * The collapsed changes after generation `since` for objects `accept`ed: an object created after it is an `add`
   * (with its latest state), one created and deleted after it is left out, a modified one is a `mod`, and a
   * deletion is reported only for objects that existed at `since`. Ordered by the generation of the last change.
   */
  changesSince(since: number, accept: (cls: ClassSpec, ref: string) => boolean): Change[] {
    const log = this.log;
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (log[mid]!.gen <= since) lo = mid + 1;
      else hi = mid;
    }
    const seen = new Set<string>();
    const out: Change[] = [];
    for (let i = log.length - 1; i >= lo; i--) {
      const { ref } = log[i]!;
      if (seen.has(ref)) continue;
      seen.add(ref);
      const o = this.objects.get(ref);
      if (o) {
        if (!accept(o.cls, ref)) continue;
        out.push({ op: o.createdGen > since ? 'add' : 'mod', gen: o.modGen, cls: o.cls, ref, obj: o });
      } else {
        const t = this.tombstones.get(ref);
        if (!t || t.createdGen > since || !accept(t.cls, ref)) continue;
        out.push({ op: 'del', gen: t.delGen, cls: t.cls, ref });
      }
    }
    return out.reverse();
  }

  /** Row counts of every table, keyed by lower-case class name (event.from's valid_ref_counts). */
  refCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, t] of this.tables) {
      const c = this.model.classes.get(name)!;
      if (c.generatesEvents) out[c.lname] = t.size;
    }
    return out;
  }

  /** Calls `fn` (soon, batched) after any mutation. Returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    if (this.notifyScheduled || this.listeners.size === 0) return;
    this.notifyScheduled = true;
    setImmediate(() => {
      this.notifyScheduled = false;
      for (const l of [...this.listeners]) l();
    });
  }

  private maybeCompact(): void {
    const live = this.objects.size + this.tombstones.size;
    if (this.log.length < 50_000 || this.log.length < 4 * live) return;
    this.log = this.log.filter(({ gen, ref }) => {
      const o = this.objects.get(ref);
      if (o) return o.modGen === gen;
      return this.tombstones.get(ref)?.delGen === gen;
    });
  }

  /** Per class: its reverse-side (set) fields, and the single-ref sides it feeds. Cached: create is hot. */
  private relationsOf(spec: ClassSpec): { reverse: Set<string>; sides: RelationSide[] } {
    let r = this.relationCache.get(spec);
    if (!r) {
      r = {
        reverse: new Set(spec.fields.filter((f) => this.model.reverseSides.has(`${spec.name}.${f.name}`)).map((f) => f.name)),
        sides: spec.fields.map((f) => this.model.relations.get(`${spec.name}.${f.name}`)).filter((s): s is RelationSide => s !== undefined),
      };
      this.relationCache.set(spec, r);
    }
    return r;
  }

  private table(cls: string): Map<string, DbObject> {
    const t = this.tables.get(cls);
    if (!t) throw new Error(`unknown class ${cls}`);
    return t;
  }

  private mustGet(ref: string): DbObject {
    const o = this.objects.get(ref);
    if (!o) throw new XapiFailure('HANDLE_INVALID', 'object', ref);
    return o;
  }

  private link(side: { otherCls: string; otherField: string }, ref: string, target: string | undefined): void {
    if (!target || target === NULL_REF) return;
    const t = this.objects.get(target);
    if (!t || t.cls.name !== side.otherCls) return;
    // A ref is new to the target here (fresh object, or a changed pointer), so no duplicate check is needed.
    (t.rec[side.otherField] as string[]).push(ref);
    this.touch(target);
  }

  private unlink(side: { otherCls: string; otherField: string }, ref: string, target: string | undefined): void {
    if (!target || target === NULL_REF) return;
    const t = this.objects.get(target);
    if (!t || t.cls.name !== side.otherCls) return;
    const set = t.rec[side.otherField] as string[];
    const i = set.indexOf(ref);
    if (i >= 0) set.splice(i, 1);
    this.touch(target);
  }
}
