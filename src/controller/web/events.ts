import type { ServerResponse } from 'node:http';

/** Options of a ViewStream. */
export interface ViewStreamOptions {
  /** The current view, serialised as the event's data. Called only while clients are connected. */
  view: () => unknown;
  /** How often the view is compared with the last one sent (default 250 ms). */
  checkIntervalMs?: number;
  /** A comment line is sent this often so proxies keep the connection (default 15 s). */
  keepaliveMs?: number;
  /** Connections beyond this are refused with 503 (default 32): every client costs a socket. */
  maxClients?: number;
}

/**
 * Server-sent events of the page's view: each client gets an `event: view` with the whole view at
 * once, then again whenever it changed. Level-based like the loop: the stream compares the view it
 * would send with the last one, so nothing the status store does needs to announce itself, and a
 * client that reconnects simply gets the current view.
 */
export class ViewStream {
  private readonly clients = new Set<ServerResponse>();
  private last = '';
  private timer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;

  private readonly options: ViewStreamOptions;

  constructor(options: ViewStreamOptions) {
    this.options = options;
  }

  /** Number of connected clients. */
  get size(): number {
    return this.clients.size;
  }

  /** Takes over `res` as an event stream; answers 503 when the client limit is reached. */
  attach(res: ServerResponse): void {
    if (this.clients.size >= (this.options.maxClients ?? 32)) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '10' });
      res.end('too many event-stream clients\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // Browsers reconnect after `retry` ms when the stream drops (a controller restart).
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => this.detach(res));
    const body = this.render();
    this.last = body;
    res.write(body);
    this.schedule();
  }

  /** Sends the view to every client now if it changed since the last send. */
  check(): void {
    if (this.clients.size === 0) return;
    const body = this.render();
    if (body === this.last) return;
    this.last = body;
    for (const c of this.clients) c.write(body);
  }

  /** Ends every stream and stops the timers. */
  close(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.stopTimers();
  }

  private render(): string {
    // JSON has no raw newlines, so the whole view is one `data:` line.
    return `event: view\ndata: ${JSON.stringify(this.options.view())}\n\n`;
  }

  private detach(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stopTimers();
  }

  private schedule(): void {
    this.timer ??= setInterval(() => this.check(), this.options.checkIntervalMs ?? 250);
    this.keepalive ??= setInterval(() => {
      for (const c of this.clients) c.write(': keepalive\n\n');
    }, this.options.keepaliveMs ?? 15_000);
    this.timer.unref();
    this.keepalive.unref();
  }

  private stopTimers(): void {
    clearInterval(this.timer);
    clearInterval(this.keepalive);
    this.timer = this.keepalive = undefined;
  }
}
