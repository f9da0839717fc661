import { OBSERVED_CLASSES, type ObservedClass } from '../model/observed.js';

const BY_LOWER = new Map<string, ObservedClass>(OBSERVED_CLASSES.map((c) => [c.toLowerCase(), c]));

/** `event.from` names classes in lower case (`vm_metrics`); this maps them back to the wire spelling. */
export function observedClassOf(eventClass: string): ObservedClass | undefined {
  return BY_LOWER.get(eventClass.toLowerCase());
}

/**
 * A float that XML-RPC encoders write as `<double>`: XAPI reads `event.from`'s timeout as a float,
 * and a whole number would go out as `<int>` (the xen-api JS client does the same).
 */
export function eventTimeout(seconds: number): number {
  return seconds + 0.001;
}
