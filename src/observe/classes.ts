import { OBSERVED_CLASSES, type ObservedClass } from '../model/observed.js';

const BY_LOWER = new Map<string, ObservedClass>(OBSERVED_CLASSES.map((c) => [c.toLowerCase(), c]));

/** `event.from` names classes in lower case (`vm_metrics`); this maps them back to the wire spelling. */
export function observedClassOf(eventClass: string): ObservedClass | undefined {
  return BY_LOWER.get(eventClass.toLowerCase());
}
