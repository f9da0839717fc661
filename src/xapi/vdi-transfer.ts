/**
 * Disk content over XAPI's HTTP handlers: upload to `PUT /import_raw_vdi` and download from `GET /export_raw_vdi`,
 * both streamed (no image is held in memory), authenticated by a session ref, and tracked by a task the client
 * creates and names in `task_id`, so the outcome (XAPI reports it in the task, after the 200 has gone out) and
 * its error are read back and the task destroyed. docs/disk-content.md describes the protocol.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Readable, Writable } from 'node:stream';
import { XapiError } from './caller.js';
import { XapiTransportError } from './errors.js';
import { HttpAgents } from './http.js';
import { JsonRpcTransport } from './jsonrpc-transport.js';
import { sleep } from './retry.js';

/** Where and as whom: a host of the pool (the master, or the host that sees the VDI's SR) and a session on it. */
export interface TransferEndpoint {
  /** `https://host` or `http://127.0.0.1:PORT`. */
  url: string;
  /** A session ref (`OpaqueRef:...`) from session.login_with_password. */
  session: string;
  /** PEM text of the CA to trust for https. */
  ca?: string;
  /** Accept any certificate. */
  insecure?: boolean;
}

/** How far a transfer is. `total` is known for uploads and raw downloads. */
export interface TransferProgress {
  bytes: number;
  total?: number;
}

/** Image encodings XAPI's handlers take and give. */
export type DiskFormat = 'raw' | 'vhd';

/** Options of one transfer. */
export interface TransferOptions {
  /** Default raw. */
  format?: DiskFormat;
  /** Called as data moves (at most every 1 MiB, and once at the end); keep it cheap. */
  onProgress?: (p: TransferProgress) => void;
  /** The transfer fails when no byte moves for this long (default 60 s). */
  idleTimeoutMs?: number;
  /** How long to wait for the task to finish once the body is through (default 60 s). */
  taskTimeoutMs?: number;
  signal?: AbortSignal;
}

/** What to upload: a file, or a stream with its exact length (XAPI reads a body of known length only). */
export type UploadSource = { path: string } | { stream: Readable; length: number };

const PROGRESS_STEP = 1024 * 1024;
const CALL_TIMEOUT_MS = 30_000;

/**
 * Uploads and downloads VDI content through one pool host. Every method rejects with XapiError when XAPI failed
 * the transfer's task (its code and params), or XapiTransportError when the host could not be reached or answered
 * neither a 200 nor a failed task.
 */
export class VdiTransfer {
  private readonly base: URL;
  private readonly endpoint: TransferEndpoint;
  private readonly rpc: JsonRpcTransport;
  private readonly agents: HttpAgents;

  private ownsSession = false;

  /** The host this transfer talks to. */
  get url(): string {
    return this.base.href;
  }

  constructor(endpoint: TransferEndpoint) {
    this.endpoint = endpoint;
    this.base = new URL(endpoint.url);
    this.agents = new HttpAgents({ ca: endpoint.ca, insecure: endpoint.insecure, maxSockets: 2 });
    this.rpc = new JsonRpcTransport(this.agents);
  }

  /**
   * Logs in with a session of its own (on the master: a supporter's HOST_IS_SLAVE answer is followed once), for
   * callers that hold credentials rather than a session; `close` logs it out. Rejects with XapiError on a refused
   * login.
   */
  static async login(opts: { url: string; user: string; password: string; ca?: string; insecure?: boolean }): Promise<VdiTransfer> {
    let url = new URL(opts.url);
    for (let hop = 0; ; hop++) {
      const agents = new HttpAgents({ ca: opts.ca, insecure: opts.insecure, maxSockets: 1 });
      try {
        const reply = await new JsonRpcTransport(agents).send(url, 'session.login_with_password', [opts.user, opts.password, '1.1', 'xops'], {
          timeoutMs: CALL_TIMEOUT_MS,
        });
        if (reply.ok) {
          const t = new VdiTransfer({ url: url.href, session: String(reply.value), ca: opts.ca, insecure: opts.insecure });
          t.ownsSession = true;
          return t;
        }
        const [code = 'INTERNAL_ERROR', ...params] = reply.error;
        if (code === 'HOST_IS_SLAVE' && params[0] && hop === 0) {
          url = new URL(url.href);
          url.hostname = params[0].includes(':') ? `[${params[0]}]` : params[0];
          continue;
        }
        // The password is never among the params XAPI sends back for a refused login.
        throw new XapiError(code, params, 'session.login_with_password');
      } finally {
        agents.destroy();
      }
    }
  }

  /** Logs out a session `login` made, and frees the keep-alive sockets used for task calls. */
  async close(): Promise<void> {
    if (this.ownsSession) {
      this.ownsSession = false;
      await this.call('session.logout').catch(() => undefined);
    }
    this.agents.destroy();
  }

  /**
   * Writes `source` into `vdi` (ref or uuid); resolves once XAPI's task succeeded. A stream source is consumed, and
   * destroyed if the transfer fails.
   */
  async upload(vdi: string, source: UploadSource, opts: TransferOptions = {}): Promise<void> {
    const length = 'path' in source ? (await stat(source.path)).size : source.length;
    const task = await this.call<string>('task.create', 'xops upload', `VDI ${vdi}`);
    // Opened only now, so a failed task.create leaves no file open.
    const stream = 'path' in source ? createReadStream(source.path) : source.stream;
    try {
      const url = this.handlerUrl('/import_raw_vdi', vdi, opts.format ?? 'raw', task);
      const report = progress(opts.onProgress, length);
      const status = await this.exchange('PUT', url, opts, (req) => {
        stream.on('data', (c: Buffer | string) => report(c.length));
        stream.on('error', (e: Error) => req.destroy(e));
        stream.pipe(req);
      }, { 'content-length': String(length), 'content-type': 'application/octet-stream' });
      await this.outcome(task, status, 'VDI.import', opts);
      // The last report once the host has it all (a file stream may signal its end after the host answered).
      report(0, true);
    } catch (e) {
      stream.destroy();
      throw e;
    } finally {
      await this.call('task.destroy', task).catch(() => undefined);
    }
  }

  /** Streams `vdi`'s content into `dest` (ended when done); resolves with the byte count once XAPI's task succeeded. */
  async download(vdi: string, dest: Writable, opts: TransferOptions = {}): Promise<{ bytes: number }> {
    const format = opts.format ?? 'raw';
    const task = await this.call<string>('task.create', 'xops download', `VDI ${vdi}`);
    let bytes = 0;
    try {
      const total = format === 'raw' ? Number(await this.call('VDI.get_virtual_size', await this.vdiRef(vdi))) : undefined;
      const url = this.handlerUrl('/export_raw_vdi', vdi, format, task);
      const report = progress(opts.onProgress, total);
      const status = await this.exchange('GET', url, opts, (req) => req.end(), {}, (res) =>
        new Promise<void>((resolve, reject) => {
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            report(c.length);
            if (!dest.write(c)) {
              res.pause();
              dest.once('drain', () => res.resume());
            }
          });
          res.on('end', () => {
            report(0, true);
            dest.end(() => resolve());
          });
          res.on('error', reject);
          dest.on('error', reject);
        }),
      );
      await this.outcome(task, status, 'VDI.export_raw', opts);
      return { bytes };
    } finally {
      await this.call('task.destroy', task).catch(() => undefined);
    }
  }

  private handlerUrl(path: string, vdi: string, format: DiskFormat, task: string): URL {
    const url = new URL(path, this.base);
    url.search = new URLSearchParams({ session_id: this.endpoint.session, vdi, format, task_id: task }).toString();
    return url;
  }

  /** A ref for `vdi` given as a ref or a uuid. */
  private async vdiRef(vdi: string): Promise<string> {
    return vdi.startsWith('OpaqueRef:') ? vdi : this.call<string>('VDI.get_by_uuid', vdi);
  }

  /**
   * One HTTP exchange: `send` writes the request body, `read` consumes a 200's body (default: discard). Resolves
   * with the status once the body is through both ways and the response has ended. A connection reset after the
   * host answered counts as the end (XAPI closes the connection when it refuses a body it has not read).
   */
  private exchange(
    method: 'PUT' | 'GET',
    url: URL,
    opts: TransferOptions,
    send: (req: http.ClientRequest) => void,
    headers: Record<string, string>,
    read?: (res: http.IncomingMessage) => Promise<void>,
  ): Promise<number> {
    const where = url.origin;
    const label = method === 'PUT' ? 'import_raw_vdi' : 'export_raw_vdi';
    return new Promise<number>((resolve, reject) => {
      const lib = url.protocol === 'https:' ? https : http;
      const req = lib.request(url, {
        method,
        headers,
        agent: false,
        ...(url.protocol === 'https:' ? { ca: this.endpoint.ca, rejectUnauthorized: !this.endpoint.insecure } : {}),
        signal: opts.signal,
      });
      let status: number | undefined;
      let settled = false;
      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(status!);
      };
      req.setTimeout(opts.idleTimeoutMs ?? 60_000, () =>
        req.destroy(new XapiTransportError(where, label, 'ETIMEDOUT', true, `no data moved for ${opts.idleTimeoutMs ?? 60_000} ms`)),
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        // Once the host has answered, its answer (and the task) stand; XAPI closes the connection, sometimes while
        // the body is still going. 'close' follows.
        if (status !== undefined) return;
        if (e instanceof XapiTransportError) return done(e);
        done(new XapiTransportError(where, label, e.code ?? 'EIO', true, e.message, e));
      });
      req.on('close', () => {
        if (status === undefined) return done(new XapiTransportError(where, label, 'ECONNRESET', true, 'connection closed without an answer'));
        if (!(read && status === 200)) done();
      });
      req.on('response', (res) => {
        status = res.statusCode ?? 0;
        if (status !== 200 || !read) {
          res.resume();
          return;
        }
        read(res).then(
          () => done(),
          (e: Error) => done(new XapiTransportError(where, label, 'EIO', true, e.message, e)),
        );
      });
      send(req);
    });
  }

  /** The task's verdict: XapiError when it failed, XapiTransportError for a non-200 with no task error. */
  private async outcome(task: string, status: number, label: string, opts: TransferOptions): Promise<void> {
    const deadline = Date.now() + (opts.taskTimeoutMs ?? 60_000);
    // XAPI finishes the task before it closes the connection, so this is usually settled at the first look.
    for (let attempt = 0; ; attempt++) {
      const rec = await this.call<{ status: string; error_info: string[] }>('task.get_record', task);
      if (rec.status === 'success' && status === 200) return;
      if (rec.status === 'failure' || rec.status === 'cancelled') {
        const [code = 'INTERNAL_ERROR', ...params] = rec.status === 'cancelled' ? ['TASK_CANCELLED', task] : rec.error_info.map(String);
        throw new XapiError(code, params, label);
      }
      if (status !== 200) throw new XapiTransportError(this.base.origin, label, `HTTP_${status}`, true, `HTTP ${status}`);
      if (Date.now() > deadline) throw new XapiTransportError(this.base.origin, label, 'ETIMEDOUT', true, `task ${task} still ${rec.status}`);
      await sleep(Math.min(1000, 50 * 2 ** attempt));
    }
  }

  private async call<T>(method: string, ...params: unknown[]): Promise<T> {
    const reply = await this.rpc.send(this.base, method, [this.endpoint.session, ...params], { timeoutMs: CALL_TIMEOUT_MS });
    if (!reply.ok) {
      const [code = 'INTERNAL_ERROR', ...rest] = reply.error;
      throw new XapiError(code, rest, method);
    }
    return reply.value as T;
  }
}

/** A counter that calls `cb` each time another MiB has moved, and at the end. */
function progress(cb: TransferOptions['onProgress'], total: number | undefined): (n: number, end?: boolean) => void {
  let bytes = 0;
  let reported = 0;
  return (n, end = false) => {
    bytes += n;
    if (!cb) return;
    if (end || bytes - reported >= PROGRESS_STEP) {
      reported = bytes;
      cb(total === undefined ? { bytes } : { bytes, total });
    }
  };
}

/** "12.0 MiB of 64.0 MiB (18%)": one progress line, for logs or a terminal status line. */
export function formatProgress(p: TransferProgress): string {
  const mib = (n: number): string => `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (p.total === undefined || p.total === 0) return mib(p.bytes);
  return `${mib(p.bytes)} of ${mib(p.total)} (${Math.floor((100 * p.bytes) / p.total)}%)`;
}
