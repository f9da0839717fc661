/**
 * The manifest kinds xops knows, in apply order: what other kinds depend on comes first.
 * Deletes run in the reverse of this order.
 */
export const KIND_ORDER = ['Pool', 'Host', 'Network', 'SR', 'Disk', 'VM', 'VMAppliance', 'SnapshotSchedule', 'VMGroup'] as const;

/** A kind that maps to pool objects (Policy is not one: it only steers xops). */
export type ResourceKind = (typeof KIND_ORDER)[number];

/** Every manifest kind, resource kinds plus Policy. */
export const ALL_KINDS = [...KIND_ORDER, 'Policy'] as const;
export type Kind = (typeof ALL_KINDS)[number];

/** `Kind/name`, the address of a resource in plans, logs and diagnostics. */
export type Address = `${Kind}/${string}`;

export function addressOf(kind: Kind, name: string): Address {
  return `${kind}/${name}`;
}

/**
 * How much an action costs the running workload, in increasing order.
 * `destructive` loses data (deleting a VDI or SR).
 */
export const DISRUPTION_ORDER = ['none', 'reboot', 'downtime', 'destructive'] as const;
export type Disruption = (typeof DISRUPTION_ORDER)[number];

export function maxDisruption(a: Disruption, b: Disruption): Disruption {
  return DISRUPTION_ORDER.indexOf(a) >= DISRUPTION_ORDER.indexOf(b) ? a : b;
}
