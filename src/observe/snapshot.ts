import { OBSERVED_CLASSES, type ObservedClass, type ObservedState, type XapiRecord } from '../model/observed.js';
import type { XapiCaller } from '../xapi/caller.js';
import { decodeRecord } from '../xapi/decode.js';
import { eventTimeout, type EventBatch } from '../xapi/task-watcher.js';
import { runStepsYielding, type Steps } from '../model/steps.js';

/**
 * The current event token, without reading the pool: `event.from` from the beginning on the one-row
 * `pool` class returns at once with the database's current generation.
 */
export async function currentToken(caller: XapiCaller): Promise<string> {
  const batch = await caller.call<EventBatch>('event.from', ['pool'], '', eventTimeout(0));
  return batch.token;
}

/** Records decoded between two steps: the VMs of a 10,000-VM pool take some 40 ms in all. */
const RECORDS_PER_STEP = 2000;

/** Decodes a `get_all_records` reply (`ref -> record`) into a Map, ints as numbers, in steps. */
function* recordsInSteps(cls: ObservedClass, reply: unknown): Steps<Map<string, XapiRecord>> {
  const map = new Map<string, XapiRecord>();
  if (reply === null || typeof reply !== 'object') return map;
  const records = reply as Record<string, XapiRecord>;
  let decoded = 0;
  for (const ref in records) {
    map.set(ref, decodeRecord(cls, records[ref]!));
    if (++decoded % RECORDS_PER_STEP === 0) yield;
  }
  return map;
}

/**
 * One consistent cold snapshot: the event token first, then `get_all_records` once per observed class
 * (concurrently). Anything that changes while the classes are read happens after the token, so an
 * event loop started from it replays it: the snapshot plus its events is never missing a change.
 * Costs 1 + OBSERVED_CLASSES.length calls whatever the pool size.
 */
export async function takeSnapshot(caller: XapiCaller): Promise<ObservedState> {
  const token = await currentToken(caller);
  // Each class is decoded as its reply arrives: the work is spread between replies instead of one
  // long stretch after the last (about 250 ms at 10k VMs), and each raw reply can go at once.
  const maps = await Promise.all(OBSERVED_CLASSES.map((cls) => caller.call(`${cls}.get_all_records`).then((reply) => runStepsYielding(recordsInSteps(cls, reply)))));
  const records = {} as Record<ObservedClass, Map<string, XapiRecord>>;
  OBSERVED_CLASSES.forEach((cls, i) => {
    records[cls] = maps[i]!;
  });
  return { token, observedAt: new Date().toISOString(), records: records as ObservedState['records'] };
}
