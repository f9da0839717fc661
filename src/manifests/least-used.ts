/**
 * Drops the least recently used entries of `entries` (each stamped with a clock value `used`)
 * until `fits(droppedBytes)` holds, and returns the bytes dropped. Callers bound by count and bytes
 * ask to fit 90% of their bounds, so that a full cache sorts its entries once in a while, not at
 * every new entry.
 */
export function dropLeastUsed<K, E extends { used: number }>(entries: Map<K, E>, bytesOf: (entry: E) => number, fits: (droppedBytes: number) => boolean): number {
  let dropped = 0;
  for (const [key, entry] of [...entries].sort((a, b) => a[1].used - b[1].used)) {
    if (fits(dropped)) break;
    entries.delete(key);
    dropped += bytesOf(entry);
  }
  return dropped;
}
