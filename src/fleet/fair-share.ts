/**
 * How many of `pools` one replica may hold while `replicas` (itself included, at least 1) are alive:
 * the ceiling of an even split, so every pool has a taker and a new replica finds work.
 */
export function fairShare(pools: number, replicas: number): number {
  return Math.ceil(pools / Math.max(1, replicas));
}

/**
 * Which of the pools this replica holds it should give up to come down to `share`: the last ones
 * by name, so that concurrent decisions agree and a pool is not released twice.
 */
export function poolsAboveShare(held: string[], share: number): string[] {
  return [...held].sort().slice(Math.max(0, share));
}
