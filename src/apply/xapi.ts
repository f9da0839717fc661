import type { ObservedClass, Ref } from '../model/observed.js';
import { XapiError, type XapiCaller } from '../xapi/caller.js';

/** Small typed conveniences over XapiCaller used by every applier. */

export function isXapiError(err: unknown, ...codes: string[]): err is XapiError {
  return err instanceof XapiError && (codes.length === 0 || codes.includes(err.code));
}

/** Classes apply reads or writes: the observed ones plus task. */
export type ApplyClass = ObservedClass | 'task';

export function getRecord<T>(caller: XapiCaller, cls: ApplyClass, ref: Ref): Promise<T> {
  return caller.call<T>(`${cls}.get_record`, ref);
}

/** The record, or undefined when the object is gone (HANDLE_INVALID): "already deleted" is an answer. */
export async function tryRecord<T>(caller: XapiCaller, cls: ApplyClass, ref: Ref): Promise<T | undefined> {
  try {
    return await getRecord<T>(caller, cls, ref);
  } catch (err) {
    if (isXapiError(err, 'HANDLE_INVALID')) return undefined;
    throw err;
  }
}

/** Ref of the object with this uuid, or undefined when there is none. */
export async function tryByUuid(caller: XapiCaller, cls: ApplyClass, uuid: string): Promise<Ref | undefined> {
  try {
    return await caller.call<Ref>(`${cls}.get_by_uuid`, uuid);
  } catch (err) {
    if (isXapiError(err, 'UUID_INVALID')) return undefined;
    throw err;
  }
}

/** Every object of the class with exactly this name_label, with its record (gone ones dropped). */
export async function recordsByName<T>(caller: XapiCaller, cls: ApplyClass, name: string): Promise<[Ref, T][]> {
  const refs = await caller.call<Ref[]>(`${cls}.get_by_name_label`, name);
  const out: [Ref, T][] = [];
  for (const ref of refs) {
    const rec = await tryRecord<T>(caller, cls, ref);
    if (rec) out.push([ref, rec]);
  }
  return out;
}

export async function allRecords<T>(caller: XapiCaller, cls: ApplyClass): Promise<[Ref, T][]> {
  const map = await caller.call<Record<Ref, T>>(`${cls}.get_all_records`);
  return Object.entries(map);
}

/** Sets a set-valued field (tags) when it differs, ignoring order. */
export async function syncSet(
  caller: XapiCaller,
  cls: ApplyClass,
  ref: Ref,
  field: string,
  current: readonly string[] | undefined,
  desired: readonly string[],
): Promise<void> {
  const a = [...(current ?? [])].sort();
  const b = [...desired].sort();
  if (a.length === b.length && a.every((v, i) => v === b[i])) return;
  await caller.call(`${cls}.set_${field}`, ref, [...desired]);
}

/**
 * Brings map keys to the wanted values: `set` keys are written (remove then add when the value
 * differs, since add_to_ fails on an existing key), `remove` keys are dropped. Keys in neither list
 * are left alone, so marks and keys other tools wrote survive.
 */
export async function syncMapKeys(
  caller: XapiCaller,
  cls: ApplyClass,
  ref: Ref,
  field: string,
  current: Record<string, string> | undefined,
  set: Record<string, string>,
  remove: readonly string[] = [],
): Promise<void> {
  const cur = current ?? {};
  for (const key of remove) {
    if (key in cur && !(key in set)) await caller.call(`${cls}.remove_from_${field}`, ref, key);
  }
  for (const [key, value] of Object.entries(set)) {
    if (cur[key] === value) continue;
    if (key in cur) await caller.call(`${cls}.remove_from_${field}`, ref, key);
    try {
      await caller.call(`${cls}.add_to_${field}`, ref, key, value);
    } catch (err) {
      // A retried call whose first attempt landed: the key is there now; make sure it has our value.
      if (!isXapiError(err, 'MAP_DUPLICATE_KEY')) throw err;
      await caller.call(`${cls}.remove_from_${field}`, ref, key);
      await caller.call(`${cls}.add_to_${field}`, ref, key, value);
    }
  }
}

/** Sets a scalar field through `set_<field>` when it differs. */
export async function syncField(
  caller: XapiCaller,
  cls: ApplyClass,
  ref: Ref,
  field: string,
  current: unknown,
  desired: unknown,
): Promise<void> {
  if (desired === undefined || current === desired) return;
  await caller.call(`${cls}.set_${field}`, ref, desired);
}
