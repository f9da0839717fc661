/**
 * Observed state that will never change again, so that values derived from it (indexes, digests,
 * the live inventory) may be computed once and reused by identity. The event-fed PoolObserver
 * publishes its state copy-on-write: a batch of events replaces the class maps and records it
 * touches and leaves every other map and record as it was. It seals what it publishes; anything
 * not sealed (a hand-built state in a test, a one-off snapshot) is never cached, so mutating it
 * in place stays safe.
 */
import type { ObservedState, XapiRecord } from './observed.js';

const sealedObjects = new WeakSet<object>();

/** Seals every class map and every record of `state`: the caller promises never to mutate them. */
export function sealState(state: ObservedState): void {
  for (const map of Object.values(state.records) as Map<string, XapiRecord>[]) sealMap(map, true);
}

/**
 * Seals one class map; with `records`, each record in it too (a snapshot). After an event batch
 * only the new records need sealing (`sealRecord`): the others were sealed when first published.
 */
export function sealMap(map: Map<string, XapiRecord>, records: boolean): void {
  sealedObjects.add(map);
  if (records) for (const rec of map.values()) sealedObjects.add(rec);
}

/** Seals one record published by an event. */
export function sealRecord(record: XapiRecord): void {
  sealedObjects.add(record);
}

/** Whether `value` (a class map or a record) was sealed: then derived values may be cached by its identity. */
export function isSealed(value: object): boolean {
  return sealedObjects.has(value);
}

/**
 * `compute(key)`, cached in `cache` by the key's identity when the key is sealed; computed afresh
 * (and not stored) when it is not.
 */
export function sealedMemo<K extends object, V>(cache: WeakMap<K, V>, key: K, compute: (key: K) => V): V {
  if (!sealedObjects.has(key)) return compute(key);
  let value = cache.get(key);
  if (value === undefined) {
    value = compute(key);
    cache.set(key, value);
  }
  return value;
}
