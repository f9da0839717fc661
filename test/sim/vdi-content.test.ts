/**
 * The simulator's disk-content HTTP handlers. Rules pinned here come from xapi-project/xen-api:
 * - ocaml/xapi/import_raw_vdi.ml: unknown format -> 404 and INTERNAL_ERROR "Unknown format x"; format=vhd with
 *   `chunked` -> 404 "Cannot handle chunked VHD"; any Transfer-Encoding -> 404 "Cannot handle encoding: x"; 200 with a
 *   `task-id` header before the body is read; the task completes with the VDI ref.
 * - ocaml/xapi/export_raw_vdi.ml: 200 with task-id, Content-Type and Content-Disposition `<uuid>.<format>`; unknown
 *   format -> 404; VHD export refused (VDI_TOO_LARGE) past max_vhd_size.
 * - ocaml/xapi/xapi_http.ml (assert_credentials_ok): a bad session -> 401 with `WWW-Authenticate: Basic realm=...`,
 *   raised before the handler's task context, so the named task is untouched; HTTP Basic credentials also log in.
 * - ocaml/xapi/importexport.ml: `vdi` is a ref or a uuid; `format` defaults to raw.
 * - ocaml/vhd-tool/src/chunked.ml: the `chunked` framing (uint64 LE offset, uint32 LE length; 0/0 ends).
 * VHD images are made with qemu-img (Debian qemu-utils), whose `vpc` driver writes the VHD format.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { ChunkedDecoder, encodeChunked } from '../../src/sim/vdi-content/chunked.js';
import { disposeVdiContent, vdiContentStore } from '../../src/sim/vdi-content/handlers.js';
import { CONTENT_BLOCK, ContentLimitError, ContentStore } from '../../src/sim/vdi-content/sparse-content.js';
import { VhdDecoder, VhdFormatError, encodeDynamicVhd } from '../../src/sim/vdi-content/vhd.js';
import { jsonOk, login } from './helpers.js';

const MiB = 1024 * 1024;
// qemu-img sizes a VHD by its CHS geometry unless its creator is one it trusts: for VHDs that xops writes, tests
// use a size that geometry covers exactly (240 cylinders x 4 heads x 17 sectors of 512 bytes: 8160 KiB).
const CHS_EXACT = 240 * 4 * 17 * 512;
let sim: Simulator;
let s: string;
let dir: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  s = await login(sim);
  dir = mkdtempSync(join(tmpdir(), 'xops-vdi-test-'));
});
afterAll(async () => {
  disposeVdiContent(sim.db);
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function newVdi(size: number, extra: Record<string, unknown> = {}): Promise<string> {
  const sr = sim.db.byName('SR', 'pool-nfs').ref;
  return call('VDI.create', { SR: sr, virtual_size: size, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'content', ...extra });
}

/** A raw image with data in a few places and long zero runs between. */
function sampleImage(size: number): Buffer {
  const img = Buffer.alloc(size);
  img.write('first sector', 0);
  img.fill(0xab, 3 * MiB + 100, 3 * MiB + 5000);
  img.write('last bytes', size - 10);
  return img;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One raw HTTP exchange; a reset after the reply was read is not an error (the server closes as XAPI does). */
function request(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const withLength = body && !headers['transfer-encoding'] ? { 'content-length': String(body.length), ...headers } : headers;
    const req = http.request(new URL(path, sim.url), { method, headers: withLength });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    if (body && headers['transfer-encoding']) {
      req.write(body);
      req.end();
    } else req.end(body);
  });
}

const qs = (p: Record<string, string>): string => new URLSearchParams(p).toString();

async function newTask(): Promise<string> {
  return call('task.create', 'upload', '');
}

function qemu(...args: string[]): void {
  execFileSync('qemu-img', args, { stdio: 'pipe' });
}

describe('sparse VDI content', () => {
  it('allocates a block on its first non-zero byte, reads zeros elsewhere, and keeps rewritten blocks', () => {
    const store = new ContentStore();
    const c = store.content('OpaqueRef:a');
    c.write(5 * CONTENT_BLOCK - 3, Buffer.from('spans two blocks'));
    c.write(9 * CONTENT_BLOCK, Buffer.alloc(3 * CONTENT_BLOCK));
    expect(c.blocks()).toEqual([4, 5]);
    expect(c.read(5 * CONTENT_BLOCK - 5, 20).toString('latin1')).toBe('\0\0spans two blocks\0\0');
    // Zeros over an allocated block are content: the block stays, and now reads as zeros there.
    c.write(5 * CONTENT_BLOCK, Buffer.alloc(13));
    expect(c.blocks()).toEqual([4, 5]);
    expect(c.read(5 * CONTENT_BLOCK - 3, 16).toString('latin1')).toBe('spa' + '\0'.repeat(13));
    expect(c.allocatedBytes).toBe(2 * CONTENT_BLOCK);
    store.dispose();
  });

  it('spills past the memory bound and refuses writes past the disk bound', () => {
    const store = new ContentStore({ memoryBytes: CONTENT_BLOCK, diskBytes: 3 * CONTENT_BLOCK });
    const c = store.content('OpaqueRef:b');
    c.write(0, Buffer.from('in memory'));
    expect(c.spilled).toBe(false);
    c.write(CONTENT_BLOCK, Buffer.from('spills'));
    expect(c.spilled).toBe(true);
    expect(existsSync(store.tempDirPath!)).toBe(true);
    c.write(2 * CONTENT_BLOCK, Buffer.from('third'));
    expect(() => c.write(3 * CONTENT_BLOCK, Buffer.from('fourth'))).toThrow(ContentLimitError);
    expect(c.read(0, 9).toString()).toBe('in memory');
    expect(c.read(CONTENT_BLOCK, 6).toString()).toBe('spills');
    const dirPath = store.tempDirPath!;
    store.drop('OpaqueRef:b');
    expect(existsSync(dirPath)).toBe(false);
  });
});

describe("XAPI's chunked framing", () => {
  it('decodes frames split anywhere, and refuses oversized frames, trailing data and a missing end', () => {
    const body = encodeChunked([
      { offset: 7, data: Buffer.from('abc') },
      { offset: 1 << 20, data: Buffer.from('defg') },
    ]);
    const d = new ChunkedDecoder();
    const got = [...body].flatMap((byte) => d.push(Buffer.from([byte])));
    d.end();
    expect(got.map((e) => [e.offset, e.data.toString()])).toEqual([
      [7, 'abc'],
      [1 << 20, 'defg'],
    ]);
    expect(() => new ChunkedDecoder(2).push(body)).toThrow(/exceeds/);
    expect(() => new ChunkedDecoder().push(Buffer.concat([body, Buffer.from('x')]))).toThrow(/after the end/);
    const open = new ChunkedDecoder();
    open.push(body.subarray(0, 20));
    expect(() => open.end()).toThrow(/before the end-of-stream/);
  });
});

describe('the VHD decoder', () => {
  it('accepts a block table sized for growth (as vhd-util makes them) but no data past the disk', () => {
    const size = 4 * MiB;
    const vhd = Buffer.concat([...encodeDynamicVhd(size, [1], () => Buffer.alloc(2 * MiB, 0x33), Buffer.alloc(16))]);
    const header = vhd.subarray(512, 1536);
    const reseal = (): void => {
      let sum = 0;
      for (let i = 0; i < header.length; i++) if (i < 36 || i >= 40) sum += header[i]!;
      header.writeUInt32BE(~sum >>> 0, 36);
    };
    header.writeUInt32BE(128, 28); // 128 entries fit the 512-byte table, whose padding reads as unused
    reseal();
    const d = new VhdDecoder(size);
    const extents = [...d.push(vhd), ...d.end()];
    expect(extents.map((e) => [e.offset, e.data.length])).toEqual([[2 * MiB, 2 * MiB]]);
    // Point entry 5 (beyond the 2 blocks of the disk) at block 1's data: refused.
    vhd.writeUInt32BE(vhd.readUInt32BE(1536 + 4), 1536 + 5 * 4);
    expect(() => new VhdDecoder(size).push(vhd)).toThrow(/beyond the disk/);
  });

  it('yields only the sectors a block bitmap marks present', () => {
    const size = 2 * 1024 * 1024;
    const vhd = Buffer.concat([...encodeDynamicVhd(size, [0], () => Buffer.alloc(size, 0x77), Buffer.alloc(16))]);
    // Layout: footer 512, header 1024, table 512, then block 0's bitmap (512) and data. Keep sectors 0 and 9 only.
    const bitmapAt = 2048;
    vhd.fill(0, bitmapAt, bitmapAt + 512);
    vhd[bitmapAt] = 0x80;
    vhd[bitmapAt + 1] = 0x40;
    const d = new VhdDecoder(size);
    const extents = [...d.push(vhd), ...d.end()];
    expect(extents.map((e) => [e.offset, e.data.length])).toEqual([
      [0, 512],
      [9 * 512, 512],
    ]);
  });

  it('yields only the blocks a dynamic VHD from qemu-img carries, whatever the chunking', () => {
    const raw = sampleImage(8 * MiB);
    writeFileSync(join(dir, 'd.raw'), raw);
    qemu('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', join(dir, 'd.raw'), join(dir, 'd.vhd'));
    const vhd = readFileSync(join(dir, 'd.vhd'));
    const d = new VhdDecoder(8 * MiB);
    const out = Buffer.alloc(8 * MiB);
    const touched = new Set<number>();
    for (let i = 0; i < vhd.length; i += 7777) {
      for (const e of d.push(vhd.subarray(i, i + 7777))) {
        e.data.copy(out, e.offset);
        touched.add(Math.floor(e.offset / (2 * MiB)));
      }
    }
    d.end();
    expect(d.virtualSize).toBe(8 * MiB);
    expect(out.equals(raw)).toBe(true);
    // Blocks 0, 1 (3 MiB + ...) and 3 (the tail) hold data; block 2 is all zeros and stays unallocated.
    expect([...touched].sort()).toEqual([0, 1, 3]);
  });

  it('reads a fixed VHD (data then footer)', () => {
    const raw = sampleImage(4 * MiB);
    writeFileSync(join(dir, 'f.raw'), raw);
    qemu('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', join(dir, 'f.raw'), join(dir, 'f.vhd'));
    const vhd = readFileSync(join(dir, 'f.vhd'));
    const d = new VhdDecoder(4 * MiB);
    const out = Buffer.alloc(4 * MiB);
    for (let i = 0; i < vhd.length; i += 100_000) for (const e of d.push(vhd.subarray(i, i + 100_000))) e.data.copy(out, e.offset);
    d.end();
    expect(out.equals(raw)).toBe(true);
  });

  it('refuses an image larger than the bound, a corrupt footer and a truncated image', () => {
    const vhd = readFileSync(join(dir, 'd.vhd'));
    expect(() => new VhdDecoder(4 * MiB).push(vhd)).toThrow(/exceeds/);
    const bad = Buffer.from(vhd);
    bad[50] ^= 0xff;
    expect(() => new VhdDecoder(8 * MiB).push(bad)).toThrow(/checksum/);
    const d = new VhdDecoder(8 * MiB);
    d.push(vhd.subarray(0, vhd.length - 600_000));
    expect(() => d.end()).toThrow(VhdFormatError);
  });

  it('writes dynamic VHDs that qemu-img reads back to the same bytes', () => {
    const raw = sampleImage(CHS_EXACT);
    const blocks = [0, 1, 3];
    const parts = [...encodeDynamicVhd(CHS_EXACT, blocks, (i) => raw.subarray(i * 2 * MiB, (i + 1) * 2 * MiB), Buffer.alloc(16, 7))];
    writeFileSync(join(dir, 'enc.vhd'), Buffer.concat(parts));
    qemu('convert', '-f', 'vpc', '-O', 'raw', join(dir, 'enc.vhd'), join(dir, 'enc.raw'));
    expect(readFileSync(join(dir, 'enc.raw')).equals(raw)).toBe(true);
  });
});

describe('PUT /import_raw_vdi and GET /export_raw_vdi', () => {
  it('imports a raw image, tracks it in a task, accounts what was written and exports it byte for byte', async () => {
    const vdi = await newVdi(8 * MiB);
    const task = await newTask();
    const img = sampleImage(8 * MiB);
    const put = await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi, format: 'raw', task_id: task })}`, img);
    expect(put.status).toBe(200);
    expect(put.headers['task-id']).toBe(task);
    const t = await call('task.get_record', task);
    expect(t.status).toBe('success');
    expect(t.progress).toBe(1);
    expect(t.result).toBe(`<value>${vdi}</value>`);
    // Three 64 KiB blocks carry data: the first, the one at 3 MiB + 100..5000 and the last.
    expect(sim.db.record(vdi).physical_utilisation).toBe(3 * CONTENT_BLOCK);

    const get = await request('GET', `/export_raw_vdi?${qs({ session_id: s, vdi, format: 'raw' })}`);
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect(get.headers['content-disposition']).toBe(`attachment; filename="${sim.db.record(vdi).uuid}.raw"`);
    expect(get.body.equals(img)).toBe(true);
  });

  it("reports the import's progress in the task while the body streams", async () => {
    const vdi = await newVdi(4 * MiB);
    const task = await newTask();
    const url = new URL(`/import_raw_vdi?${qs({ session_id: s, vdi, task_id: task })}`, sim.url);
    const req = http.request(url, { method: 'PUT', headers: { 'content-length': String(4 * MiB) } });
    const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
    });
    req.write(Buffer.alloc(2 * MiB, 1));
    expect((await answered).headers['task-id']).toBe(task);
    // Wait for the host to have read some of the first half: a change to the task's progress, seen in-process.
    const midway = await new Promise<number>((resolve) => {
      const check = (): void => {
        const p = sim.db.record(task).progress as number;
        if (p > 0) {
          off();
          resolve(p);
        }
      };
      const off = sim.db.onChange(check);
      check();
    });
    expect(midway).toBeGreaterThan(0);
    expect(midway).toBeLessThanOrEqual(0.5);
    expect(await call('task.get_status', task)).toBe('pending');
    const ended = new Promise((r) => req.on('close', r));
    req.end(Buffer.alloc(2 * MiB, 2));
    await ended;
    expect(await call('task.get_progress', task)).toBe(1);
    expect(await call('task.get_status', task)).toBe('success');
  });

  it('takes the VDI by uuid and the format as default raw, and destroys the task it made itself', async () => {
    // SM rounds virtual sizes up to 2 MiB (see test/sim/xapi-rules.test.ts): a whole number of those.
    const vdi = await newVdi(2 * MiB);
    const uuid = sim.db.record(vdi).uuid as string;
    const img = Buffer.alloc(2 * MiB, 1);
    const put = await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi: uuid })}`, img);
    expect(put.status).toBe(200);
    const own = put.headers['task-id'] as string;
    expect(own).toMatch(/^OpaqueRef:/);
    expect(sim.db.get(own)).toBeUndefined();
    expect((await request('GET', `/export_raw_vdi?${qs({ session_id: s, vdi: uuid })}`)).body.equals(img)).toBe(true);
  });

  it('imports a dynamic VHD made by qemu-img, leaving its zero blocks unallocated', async () => {
    const vdi = await newVdi(8 * MiB);
    const task = await newTask();
    const put = await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi, format: 'vhd', task_id: task })}`, readFileSync(join(dir, 'd.vhd')));
    expect(put.status).toBe(200);
    expect((await call('task.get_record', task)).status).toBe('success');
    expect(sim.db.record(vdi).physical_utilisation).toBe(3 * CONTENT_BLOCK);
    const raw = await request('GET', `/export_raw_vdi?${qs({ session_id: s, vdi, format: 'raw' })}`);
    expect(raw.body.equals(sampleImage(8 * MiB))).toBe(true);
  });

  it('exports VHD that qemu-img reads back to the same bytes', async () => {
    const vdi = await newVdi(CHS_EXACT);
    const img = sampleImage(CHS_EXACT);
    expect((await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi })}`, img)).status).toBe(200);
    const vhd = await request('GET', `/export_raw_vdi?${qs({ session_id: s, vdi, format: 'vhd' })}`);
    expect(vhd.headers['content-type']).toBe('application/vhd');
    expect(vhd.headers['content-disposition']).toMatch(/\.vhd"$/);
    writeFileSync(join(dir, 'out.vhd'), vhd.body);
    // Only the 2 MiB blocks holding data are in the image: blocks 0, 1 and 3 of 4.
    expect(vhd.body.length).toBeLessThan(3 * (2 * MiB + 512) + 4096);
    qemu('convert', '-f', 'vpc', '-O', 'raw', join(dir, 'out.vhd'), join(dir, 'out.raw'));
    expect(readFileSync(join(dir, 'out.raw')).equals(img)).toBe(true);
  });

  it("imports XAPI's chunked framing (raw only)", async () => {
    const vdi = await newVdi(2 * MiB);
    const body = encodeChunked([
      { offset: MiB, data: Buffer.from('at one MiB') },
      { offset: 10, data: Buffer.from('near the start') },
    ]);
    const put = await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi, chunked: 'true' })}`, body);
    expect(put.status).toBe(200);
    const out = (await request('GET', `/export_raw_vdi?${qs({ session_id: s, vdi })}`)).body;
    expect(out.subarray(MiB, MiB + 10).toString()).toBe('at one MiB');
    expect(out.subarray(10, 24).toString()).toBe('near the start');
    expect(sim.db.record(vdi).physical_utilisation).toBe(2 * CONTENT_BLOCK);
  });

  it('answers a bad session with 401, leaving the named task alone, and takes Basic credentials instead of a session', async () => {
    const vdi = await newVdi(MiB);
    const task = await newTask();
    const r = await request('PUT', `/import_raw_vdi?${qs({ session_id: 'OpaqueRef:nope', vdi, task_id: task })}`, Buffer.alloc(512));
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="VDI.import"');
    expect((await call('task.get_record', task)).status).toBe('pending');
    expect((await request('GET', `/export_raw_vdi?${qs({ vdi })}`)).status).toBe(401);
    const wrong = `Basic ${Buffer.from('root:wrong').toString('base64')}`;
    expect((await request('GET', `/export_raw_vdi?${qs({ vdi })}`, undefined, { authorization: wrong })).status).toBe(401);
    const right = `Basic ${Buffer.from('root:xops').toString('base64')}`;
    const ok = await request('PUT', `/import_raw_vdi?${qs({ vdi })}`, Buffer.from('hello'), { authorization: right });
    expect(ok.status).toBe(200);
    expect((await request('GET', `/export_raw_vdi?${qs({ vdi })}`, undefined, { authorization: right })).body.subarray(0, 5).toString()).toBe('hello');
  });

  it('refuses what XAPI refuses, with its status codes and task errors', async () => {
    const vdi = await newVdi(2 * MiB);
    const cases: { why: string; query: Record<string, string>; body: Buffer; headers?: Record<string, string>; status: number; error: string[] }[] = [
      { why: 'unknown format', query: { format: 'qcow9' }, body: Buffer.alloc(512), status: 404, error: ['INTERNAL_ERROR', 'Unknown format qcow9'] },
      { why: 'chunked framing is raw only', query: { format: 'vhd', chunked: 'true' }, body: Buffer.alloc(512), status: 404, error: ['INTERNAL_ERROR', 'Cannot handle chunked VHD'] },
      {
        why: 'HTTP chunked transfer encoding is not read',
        query: {},
        body: Buffer.alloc(512),
        headers: { 'transfer-encoding': 'chunked' },
        status: 404,
        error: ['INTERNAL_ERROR', 'Cannot handle encoding: chunked'],
      },
      { why: 'an image larger than the disk', query: {}, body: Buffer.alloc(2 * MiB + 1), status: 400, error: ['VDI_TOO_SMALL', vdi, String(2 * MiB + 1)] },
    ];
    for (const c of cases) {
      const task = await newTask();
      const headers = c.headers ?? {};
      const r = await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi, task_id: task, ...c.query })}`, c.body, headers).catch((e: Error) => e);
      expect(r instanceof Error ? r.message : r.status, c.why).toBe(c.status);
      expect((await call('task.get_record', task)).error_info, c.why).toEqual(c.error);
    }
    const task = await newTask();
    const unknown = await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi: 'no-such-uuid', task_id: task })}`, Buffer.alloc(512));
    expect(unknown.status).toBe(500);
    expect((await call('task.get_record', task)).status).toBe('pending');
    const exportTask = await newTask();
    expect((await request('GET', `/export_raw_vdi?${qs({ session_id: s, vdi, format: 'tar.gz', task_id: exportTask })}`)).status).toBe(404);
    expect((await call('task.get_record', exportTask)).error_info).toEqual(['INTERNAL_ERROR', 'Unknown format tar.gz']);
  });

  it('fails the task when a VHD declares more than the disk or is truncated', async () => {
    // 8 MiB in a VHD whose body is small enough to pass the length check: only its header says too much.
    const raw = Buffer.alloc(8 * MiB);
    raw.write('x', 0);
    writeFileSync(join(dir, 'sparse.raw'), raw);
    qemu('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', join(dir, 'sparse.raw'), join(dir, 'sparse.vhd'));
    const small = await newVdi(4 * MiB);
    const task = await newTask();
    const put = await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi: small, format: 'vhd', task_id: task })}`, readFileSync(join(dir, 'sparse.vhd')));
    // The 200 went out before the body was read; the outcome is in the task.
    expect(put.status).toBe(200);
    const t = await call('task.get_record', task);
    expect(t.status).toBe('failure');
    expect(t.error_info[0]).toBe('VDI_IO_ERROR');
    expect(t.error_info[1]).toMatch(/exceeds/);
    expect(sim.db.record(small).physical_utilisation).toBe(0);
    // A body longer than any VHD of the disk's size (4 MiB + 8 MiB + 8 KiB a block) is refused before it is read.
    const early = await newTask();
    const tooLong = await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi: small, format: 'vhd', task_id: early })}`, Buffer.alloc(16 * MiB));
    expect(tooLong.status).toBe(400);
    expect((await call('task.get_record', early)).error_info[0]).toBe('VDI_TOO_SMALL');

    const vdi = await newVdi(8 * MiB);
    const task2 = await newTask();
    const vhd = readFileSync(join(dir, 'd.vhd'));
    await request('PUT', `/import_raw_vdi?${qs({ session_id: s, vdi, format: 'vhd', task_id: task2 })}`, vhd.subarray(0, 4000));
    expect((await call('task.get_record', task2)).error_info[0]).toBe('VDI_IO_ERROR');
  });

  it('moves content past the memory bound to a temp file, removed when the VDI is destroyed', async () => {
    // A simulator of its own, so the store's bound can be set before anything is stored.
    const other = await startSimulator({ port: 0, multiHost: false });
    try {
      const store = vdiContentStore(other.db, { memoryBytes: 2 * CONTENT_BLOCK });
      const session = await login(other);
      const sr = other.db.byName('SR', 'pool-nfs').ref;
      const vdi = await jsonOk(other.url, 'VDI.create', session, { SR: sr, virtual_size: 8 * MiB, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'big' });
      const img = sampleImage(8 * MiB);
      img.fill(0x11, 6 * MiB, 7 * MiB);
      const url = new URL(`/import_raw_vdi?${qs({ session_id: session, vdi })}`, other.url);
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(url, { method: 'PUT', headers: { 'content-length': String(img.length) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(img);
      });
      expect(status).toBe(200);
      expect(store.peek(vdi)?.spilled).toBe(true);
      const tempDir = store.tempDirPath!;
      expect(existsSync(tempDir)).toBe(true);
      const out = await fetch(new URL(`/export_raw_vdi?${qs({ session_id: session, vdi })}`, other.url));
      expect(Buffer.from(await out.arrayBuffer()).equals(img)).toBe(true);
      expect(other.db.record(vdi).physical_utilisation).toBe(3 * CONTENT_BLOCK + MiB);

      await jsonOk(other.url, 'VDI.destroy', session, vdi);
      await new Promise((r) => setImmediate(r));
      expect(store.peek(vdi)).toBeUndefined();
      expect(existsSync(tempDir)).toBe(false);
    } finally {
      disposeVdiContent(other.db);
      await other.stop();
    }
  });
});
