import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/controller/types.js';

/** One request as the receiver saw it: the raw body bytes, exactly as signed. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  json(): unknown;
}

/** What to answer: a status, or a promise of one (to hold a request open until the test lets go). */
export type Answer = number | { status: number; headers: Record<string, string> };
export type Responder = (req: Received, index: number) => Answer | Promise<Answer>;

/**
 * A local HTTP endpoint that records every request and answers what the test says. Tests wait on
 * `received(n)` (resolved by the requests themselves), never on time.
 */
export class Receiver {
  readonly requests: Received[] = [];
  private server: Server | undefined;
  private waiters: { n: number; resolve: () => void }[] = [];
  respond: Responder = () => 200;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, json: () => JSON.parse(raw.toString('utf8')) };
        const index = this.requests.push(r) - 1;
        for (const w of this.waiters.filter((w) => this.requests.length >= w.n)) w.resolve();
        this.waiters = this.waiters.filter((w) => this.requests.length < w.n);
        void Promise.resolve(this.respond(r, index)).then((answer) => {
          const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end('{}');
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves once at least `n` requests have arrived. */
  received(n: number): Promise<Received[]> {
    if (this.requests.length >= n) return Promise.resolve(this.requests);
    return new Promise((resolve) => this.waiters.push({ n, resolve: () => resolve(this.requests) }));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * A clock that records every delay asked of it and fires the timer on the next turn of the event
 * loop: the backoff schedule is checked exactly, without waiting for it.
 */
export class RecordingClock implements Clock {
  readonly delays: number[] = [];
  now(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    return setImmediate(fn);
  }
  clearTimeout(handle: unknown): void {
    if (handle) clearImmediate(handle as NodeJS.Immediate);
  }
}
