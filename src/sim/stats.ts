/** Counts of XAPI calls by wire method name (`Async.` kept, so async and sync calls are told apart). */
export class CallStats {
  private counts = new Map<string, number>();
  private totalCalls = 0;

  record(method: string): void {
    this.totalCalls++;
    this.counts.set(method, (this.counts.get(method) ?? 0) + 1);
  }

  /** The count for one method, or all counts as a plain object (sorted by name) when none is given. */
  get(): Record<string, number>;
  get(method: string): number;
  get(method?: string): number | Record<string, number> {
    if (method !== undefined) return this.counts.get(method) ?? 0;
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  get total(): number {
    return this.totalCalls;
  }

  reset(): void {
    this.counts = new Map();
    this.totalCalls = 0;
  }
}
