/**
 * XAPI's disk-content HTTP handlers on the simulator's XAPI port: `PUT /import_raw_vdi` and `GET /export_raw_vdi`.
 * The checks, their order, the status codes and the task's life follow xapi-project/xen-api
 * `ocaml/xapi/import_raw_vdi.ml`, `ocaml/xapi/export_raw_vdi.ml`, `ocaml/xapi/xapi_http.ml` (authentication, the
 * task named by `task_id`) and `ocaml/xapi/importexport.ml` (`vdi` as ref or uuid, `format`). docs/disk-content.md
 * describes them as served here.
 */
import type http from 'node:http';
import { Readable } from 'node:stream';
import { adjustSr } from '../behaviour/objects.js';
import type { SimCore } from '../core.js';
import type { SimDatabase } from '../database.js';
import { XapiFailure, fail, toErrorArray } from '../errors.js';
import { completeTask, createTask, failTask } from '../tasks.js';
import { ChunkedDecoder, ChunkedFormatError } from './chunked.js';
import { CONTENT_BLOCK, ContentLimitError, ContentStore, type ContentLimits, type SparseContent } from './sparse-content.js';
import { MAX_VHD_SIZE, VHD_BLOCK_SIZE, VhdDecoder, VhdFormatError, encodeDynamicVhd, type Extent } from './vhd.js';

export const IMPORT_PATH = '/import_raw_vdi';
export const EXPORT_PATH = '/export_raw_vdi';

const stores = new WeakMap<SimDatabase, ContentStore>();

/**
 * The content store of a simulator (keyed by its database, which `Simulator.db` exposes), created on first use.
 * `limits` applies only when the store is created here.
 */
export function vdiContentStore(db: SimDatabase, limits?: Partial<ContentLimits>): ContentStore {
  let s = stores.get(db);
  if (!s) {
    const store = new ContentStore(limits);
    s = store;
    stores.set(db, store);
    // Content of a destroyed VDI goes with it (and its temp file with the last spilled one).
    db.onChange(() => {
      for (const key of store.keys()) if (!db.get(key)) store.drop(key);
    });
  }
  return s;
}

/** What was stored for VDI `vdi` of this simulator, without creating a store when there is none. */
export function storedVdiContent(db: SimDatabase, vdi: string): SparseContent | undefined {
  return stores.get(db)?.peek(vdi);
}

/** Frees every VDI's content of this simulator and removes its temp files. */
export function disposeVdiContent(db: SimDatabase): void {
  stores.get(db)?.dispose();
  stores.delete(db);
}

/**
 * The routing hook: serves the request and returns true when it is for one of the disk-content paths; returns false
 * (touching nothing) otherwise. Must be called before anything reads the request body.
 */
export function serveVdiContent(core: SimCore, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  // Cheap test first: every API call passes through here.
  const raw = req.url ?? '/';
  if (!raw.startsWith(IMPORT_PATH) && !raw.startsWith(EXPORT_PATH)) return false;
  const url = new URL(raw, 'http://sim');
  if (url.pathname === IMPORT_PATH && req.method === 'PUT') {
    importRaw(core, url.searchParams, req, res);
    return true;
  }
  if (url.pathname === EXPORT_PATH && req.method === 'GET') {
    exportRaw(core, url.searchParams, req, res);
    return true;
  }
  return false;
}

type Format = 'raw' | 'vhd';

/** `format` as importexport.ml reads it: absent means raw; XAPI also knows tar and qcow2, which the simulator does not serve. */
function formatOf(q: URLSearchParams): { ok: Format } | { unknown: string } {
  const f = q.get('format');
  if (f === null) return { ok: 'raw' };
  const lower = f.toLowerCase();
  return lower === 'raw' || lower === 'vhd' ? { ok: lower } : { unknown: f };
}

/** Closes the exchange with a status and no body; the request body, if any, is not read (XAPI closes too). */
function reply(req: http.IncomingMessage, res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, Connection: 'close', 'Content-Length': '0' });
  res.end();
  res.once('finish', () => req.socket.destroy());
}

/**
 * A valid `session_id`, or HTTP Basic credentials of the pool's user, else a 401 (xapi_http.ml
 * assert_credentials_ok: it raises Unauthorised before the handler's task context exists, so the task named by
 * `task_id` is left as it was).
 */
function authenticate(core: SimCore, q: URLSearchParams, realm: string, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const s = q.get('session_id');
  if (s !== null) {
    const o = core.db.get(s);
    if (o && o.cls.name === 'session') return true;
  } else if (basicAuthOk(core, req.headers.authorization)) return true;
  reply(req, res, 401, { 'WWW-Authenticate': `Basic realm="${realm}"` });
  return false;
}

function basicAuthOk(core: SimCore, header: string | undefined): boolean {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  if (!m) return false;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon >= 0 && text.slice(0, colon) === core.credentials.user && text.slice(colon + 1) === core.credentials.password;
}

/** The task named by `task_id`, when it is a task of this pool. */
function forwardedTask(core: SimCore, q: URLSearchParams): string | undefined {
  const t = q.get('task_id');
  const o = t ? core.db.get(t) : undefined;
  return o && o.cls.name === 'task' ? o.ref : undefined;
}

/** The task the transfer reports on: the caller's (`task_id`), or one of its own, destroyed when the exchange ends. */
function transferTask(core: SimCore, forwarded: string | undefined, label: string, res: http.ServerResponse): string {
  if (forwarded) return forwarded;
  const own = createTask(core, label, '', core.hostRefs()[0] ?? '');
  res.once('close', () => {
    if (core.db.get(own)) core.db.destroy(own);
  });
  return own;
}

/** Sets task.progress when it has moved by at least 1%, so a large transfer does not flood event.from. */
function progressReporter(core: SimCore, task: string, total: number): (done: number) => void {
  let last = 0;
  return (done) => {
    const p = total > 0 ? Math.min(0.99, done / total) : 0;
    if (p - last < 0.01) return;
    last = p;
    if (core.db.get(task)?.rec.status === 'pending') core.db.set(task, 'progress', Math.round(p * 100) / 100);
  };
}

/** Makes the VDI's (and its SR's) physical_utilisation follow the bytes its content now holds. */
function accountUtilisation(core: SimCore, vdi: string, content: SparseContent): void {
  const rec = core.db.record(vdi);
  const before = rec.physical_utilisation as number;
  const now = content.allocatedBytes;
  if (before === now) return;
  core.db.set(vdi, 'physical_utilisation', now);
  adjustSr(core.db, rec.SR as string, 0, now - before);
}

function importRaw(core: SimCore, q: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void {
  const forwarded = forwardedTask(core, q);
  if (!authenticate(core, q, 'VDI.import', req, res)) return;
  const vdiParam = q.get('vdi');
  // Without a vdi (and the simulator takes no sr to create one in), XAPI fails the named task and answers 400.
  if (!vdiParam) {
    if (forwarded) failTask(core, forwarded, ['VDI_MISSING']);
    return reply(req, res, 400);
  }
  // An unknown vdi escapes XAPI's handler as an exception raised in a task context of its own: HTTP 500, and the
  // task named by task_id is left as it was.
  const vdi = core.db.get(vdiParam)?.cls.name === 'VDI' ? vdiParam : core.db.refByUuid('VDI', vdiParam);
  if (!vdi) return reply(req, res, 500);
  const task = transferTask(core, forwarded, 'Importing raw VDI', res);
  const refuse = (status: number, error: string[]): void => {
    failTask(core, task, error);
    reply(req, res, status);
  };
  const format = formatOf(q);
  if ('unknown' in format) return refuse(404, ['INTERNAL_ERROR', `Unknown format ${format.unknown}`]);
  const chunked = q.has('chunked');
  if (format.ok !== 'raw' && chunked) return refuse(404, ['INTERNAL_ERROR', 'Cannot handle chunked VHD']);
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return refuse(404, ['INTERNAL_ERROR', `Cannot handle encoding: ${te}`]);
  const rec = core.db.record(vdi);
  if (rec.read_only === true) return refuse(400, ['VDI_READONLY', vdi]);
  const virtualSize = rec.virtual_size as number;
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined) return refuse(400, ['INTERNAL_ERROR', 'Content-Length required']);
  const length = Number(lengthHeader);
  // Bounds on the body: a raw image is at most the disk; a VHD adds its metadata (footers, header, a block table of
  // up to 4 MiB for a table sized for growth, and per block a bitmap and alignment padding); the chunked framing may
  // rewrite ranges, up to twice the disk.
  const blocks = Math.ceil(virtualSize / VHD_BLOCK_SIZE);
  const maxBody = format.ok === 'vhd' ? virtualSize + 8 * 1024 * 1024 + blocks * 8192 : chunked ? 2 * virtualSize + 1024 * 1024 : virtualSize;
  if (length > maxBody) return refuse(400, ['VDI_TOO_SMALL', vdi, String(length)]);

  res.writeHead(200, { 'task-id': task, 'Content-Type': 'application/octet-stream', Connection: 'close' });
  res.flushHeaders();

  const content = vdiContentStore(core.db).content(vdi);
  const decoder = extentDecoder(format.ok, chunked, virtualSize);
  const progress = progressReporter(core, task, length);
  let received = 0;
  let failed = false;
  const write = (extents: Extent[]): void => {
    for (const e of extents) {
      if (e.offset + e.data.length > virtualSize) throw fail('VDI_TOO_SMALL', vdi, String(e.offset + e.data.length));
      content.write(e.offset, e.data);
    }
  };
  const abort = (e: unknown): void => {
    if (failed) return;
    failed = true;
    accountUtilisation(core, vdi, content);
    failTask(core, task, importError(e));
    req.removeAllListeners('data');
    res.end();
    res.once('finish', () => req.socket.destroy());
  };
  req.on('data', (chunk: Buffer) => {
    if (failed) return;
    try {
      received += chunk.length;
      write(decoder.push(chunk));
      progress(received);
    } catch (e) {
      abort(e);
    }
  });
  req.on('end', () => {
    if (failed) return;
    try {
      write(decoder.end());
      accountUtilisation(core, vdi, content);
      completeTask(core, task, { k: 'ref', cls: 'VDI' }, vdi);
      res.end();
    } catch (e) {
      abort(e);
    }
  });
  req.on('close', () => {
    if (!req.complete) abort(new XapiFailure('INTERNAL_ERROR', 'client closed the connection before the end of the image'));
  });
}

/** The error list a failed import leaves in its task. */
function importError(e: unknown): string[] {
  if (e instanceof VhdFormatError || e instanceof ChunkedFormatError) return ['VDI_IO_ERROR', e.message];
  if (e instanceof ContentLimitError) return ['SR_FULL', e.message];
  return toErrorArray(e);
}

interface ExtentDecoder {
  push(chunk: Buffer): Extent[];
  end(): Extent[];
}

function extentDecoder(format: Format, chunked: boolean, virtualSize: number): ExtentDecoder {
  if (format === 'vhd') return new VhdDecoder(virtualSize);
  if (chunked) {
    const c = new ChunkedDecoder();
    return {
      push: (b) => c.push(b),
      end: () => {
        c.end();
        return [];
      },
    };
  }
  let offset = 0;
  return {
    push: (b) => {
      const e = { offset, data: b };
      offset += b.length;
      return [e];
    },
    end: () => [],
  };
}

function exportRaw(core: SimCore, q: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void {
  const forwarded = forwardedTask(core, q);
  if (!authenticate(core, q, 'VDI.export_raw', req, res)) return;
  const vdiParam = q.get('vdi');
  // export_raw_vdi.ml: a missing vdi is a bare failure, an unknown one a lookup exception, both raised in a task
  // context of their own: HTTP 500, the task named by task_id left as it was.
  const vdi = !vdiParam ? undefined : core.db.get(vdiParam)?.cls.name === 'VDI' ? vdiParam : core.db.refByUuid('VDI', vdiParam);
  if (!vdi) return reply(req, res, 500);
  const task = transferTask(core, forwarded, 'Exporting raw VDI', res);
  const format = formatOf(q);
  if ('unknown' in format) {
    failTask(core, task, ['INTERNAL_ERROR', `Unknown format ${format.unknown}`]);
    return reply(req, res, 404);
  }
  const rec = core.db.record(vdi);
  const size = rec.virtual_size as number;
  res.writeHead(200, {
    'task-id': task,
    'Content-Type': format.ok === 'vhd' ? 'application/vhd' : 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${rec.uuid as string}.${format.ok}"`,
    Connection: 'close',
  });
  if (format.ok === 'vhd' && size > MAX_VHD_SIZE) {
    // XAPI checks this after sending the headers: the task carries the error, the body stays empty.
    failTask(core, task, ['VDI_TOO_LARGE', vdi, String(MAX_VHD_SIZE)]);
    res.end();
    return;
  }
  const content = vdiContentStore(core.db).peek(vdi);
  const body = format.ok === 'vhd' ? vhdChunks(content, size, rec.uuid as string) : rawChunks(content, size);
  const progress = progressReporter(core, task, size);
  let sent = 0;
  const stream = Readable.from(
    (function* () {
      for (const chunk of body) {
        sent += chunk.length;
        progress(Math.min(sent, size));
        yield chunk;
      }
    })(),
  );
  stream.on('end', () => completeTask(core, task, { k: 'void' }, undefined));
  stream.on('error', (e) => {
    failTask(core, task, toErrorArray(e));
    res.destroy();
  });
  res.on('close', () => {
    // A client that hangs up early leaves the export unfinished: the task says so instead of staying pending.
    if (!res.writableFinished) failTask(core, task, ['INTERNAL_ERROR', 'client closed the connection before the end of the export']);
    stream.destroy();
  });
  stream.pipe(res);
}

const ZEROS = Buffer.alloc(CONTENT_BLOCK);

function* rawChunks(content: SparseContent | undefined, size: number): Generator<Buffer> {
  for (let off = 0; off < size; off += CONTENT_BLOCK) {
    const n = Math.min(CONTENT_BLOCK, size - off);
    const block = content?.readBlock(off / CONTENT_BLOCK) ?? ZEROS;
    yield n === CONTENT_BLOCK ? block : block.subarray(0, n);
  }
}

function vhdChunks(content: SparseContent | undefined, size: number, uuid: string): Generator<Buffer> {
  const perVhdBlock = VHD_BLOCK_SIZE / CONTENT_BLOCK;
  const present = [...new Set((content?.blocks() ?? []).map((b) => Math.floor(b / perVhdBlock)))].sort((a, b) => a - b);
  const read = (i: number): Buffer | undefined => (content ? content.read(i * VHD_BLOCK_SIZE, VHD_BLOCK_SIZE) : undefined);
  return encodeDynamicVhd(size, present, read, Buffer.from(uuid.replace(/-/g, ''), 'hex'));
}
