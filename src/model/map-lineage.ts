/**
 * Which records an event-fed class map replaced since an earlier one, without comparing the two
 * maps entry by entry. The PoolObserver publishes a new class map per event batch that touches the
 * class; when the batch only replaced records (no object added or removed), it notes the new map as
 * derived from the previous one with the refs it replaced. A PlanMemo asking what changed between
 * the states of two plans (plan/state-changes.ts) then follows the notes back instead of walking
 * 10,000 VMs twice per class changed.
 *
 * Only ids and refs are kept, never the maps (a chain of notes must not keep every map of an
 * afternoon's events alive), and only the latest notes: an older gap is answered by comparing.
 */
import type { Ref } from './observed.js';

interface Note {
  from: number;
  replaced: readonly Ref[];
}

/** Notes kept: some hundreds of event batches since the state a plan last held for. */
const NOTES_KEPT = 512;
/** Steps followed back at most: past that, comparing the maps costs less. */
const MAX_STEPS = 256;

const ids = new WeakMap<object, number>();
const notes = new Map<number, Note>();
let lastId = 0;

function idOf(map: object): number {
  let id = ids.get(map);
  if (id === undefined) ids.set(map, (id = ++lastId));
  return id;
}

/**
 * `next` is `previous` with the records at `replaced` replaced, and nothing else: no ref added or
 * removed, every other ref holding the same record object. The caller (the observer) guarantees it.
 */
export function noteReplaced(next: Map<Ref, unknown>, previous: Map<Ref, unknown>, replaced: readonly Ref[]): void {
  const id = idOf(next);
  notes.set(id, { from: idOf(previous), replaced });
  if (notes.size > NOTES_KEPT) notes.delete(notes.keys().next().value!);
}

/**
 * The refs whose records may differ between `before` and `after`, when `after` derives from
 * `before` by replacements only (noted by noteReplaced, still remembered): every other ref holds
 * the same record in both, in the same order. Undefined when that is not known.
 */
export function replacedSince(after: object, before: object): Set<Ref> | undefined {
  const target = ids.get(before);
  let id = ids.get(after);
  if (target === undefined || id === undefined) return undefined;
  const refs = new Set<Ref>();
  for (let steps = 0; id !== target; steps++) {
    const note = notes.get(id);
    if (!note || steps >= MAX_STEPS) return undefined;
    for (const ref of note.replaced) refs.add(ref);
    id = note.from;
  }
  return refs;
}
