/**
 * Requests the simulator has read and decided never to answer (the `noReply` fault, silent dark hosts). Each is
 * held until the client gives up (its connection closes), the faults are cleared or the host is restored; then
 * its connection is destroyed, as a host that dies mid-call would leave it.
 */

/** A held request: what to destroy when it is dropped, and a way to learn that the client went away. */
export interface Holdable {
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

/** The set of held requests, with a way for tests to wait until a request is held (no timers involved). */
export class HeldRequests {
  private readonly items = new Map<Holdable, number>();
  private waiters: { n: number; resolve: () => void }[] = [];

  /** Holds `conn` (received by host `hostIndex`) until it closes or is dropped. */
  hold(conn: Holdable, hostIndex: number): void {
    this.items.set(conn, hostIndex);
    conn.once('close', () => this.items.delete(conn));
    const ready = this.waiters.filter((w) => this.items.size >= w.n);
    this.waiters = this.waiters.filter((w) => this.items.size < w.n);
    for (const w of ready) w.resolve();
  }

  /** How many requests are held now. */
  get size(): number {
    return this.items.size;
  }

  /** Resolves once at least `n` requests are held at the same time. */
  waitFor(n = 1): Promise<void> {
    if (this.items.size >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Drops (destroys) the requests held on host `hostIndex`. */
  dropHost(hostIndex: number): void {
    for (const [c, h] of [...this.items]) if (h === hostIndex) this.drop(c);
  }

  /** Drops every held request. */
  dropAll(): void {
    for (const c of [...this.items.keys()]) this.drop(c);
  }

  private drop(c: Holdable): void {
    this.items.delete(c);
    c.destroy();
  }
}
