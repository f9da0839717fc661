/**
 * VdiTransfer against the simulator's /import_raw_vdi and /export_raw_vdi (see test/sim/vdi-content.test.ts for the
 * xen-api sources those handlers follow: the 200 goes out before the body is read, so the outcome is in the task).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { disposeVdiContent } from '../../src/sim/vdi-content/handlers.js';
import { XapiError } from '../../src/xapi/caller.js';
import { encodeDynamicVhd } from '../../src/sim/vdi-content/vhd.js';
import { VdiTransfer, formatProgress, type TransferProgress } from '../../src/xapi/vdi-transfer.js';
import { jsonOk, login } from '../sim/helpers.js';

const MiB = 1024 * 1024;
let sim: Simulator;
let session: string;
let transfer: VdiTransfer;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, multiHost: false });
  session = await login(sim);
  transfer = new VdiTransfer({ url: sim.url, session });
  dir = mkdtempSync(join(tmpdir(), 'xops-transfer-test-'));
});
afterAll(async () => {
  await transfer.close();
  disposeVdiContent(sim.db);
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function newVdi(size: number): Promise<string> {
  const sr = sim.db.byName('SR', 'pool-nfs').ref;
  return jsonOk(sim.url, 'VDI.create', session, { SR: sr, virtual_size: size, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 't' });
}

/** A Writable that keeps what it is given. */
function sink(): { stream: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { stream: new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }), bytes: () => Buffer.concat(parts) };
}

const tasksLeft = (): number => [...sim.db.all('task')].length;

describe('VdiTransfer', () => {
  it('uploads a file with progress and downloads it back byte for byte, leaving no task behind', async () => {
    const vdi = await newVdi(4 * MiB);
    const img = Buffer.alloc(3 * MiB + 123);
    for (let i = 0; i < img.length; i += 4096) img.writeUInt32BE(i, i);
    writeFileSync(join(dir, 'a.raw'), img);
    const tasks = tasksLeft();
    const seen: TransferProgress[] = [];
    await transfer.upload(vdi, { path: join(dir, 'a.raw') }, { onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toEqual({ bytes: img.length, total: img.length });
    expect(seen.map((p) => p.bytes)).toEqual([...seen.map((p) => p.bytes)].sort((a, b) => a - b));
    expect(seen.length).toBeGreaterThanOrEqual(3);

    const out = sink();
    const got: TransferProgress[] = [];
    const { bytes } = await transfer.download(vdi, out.stream, { onProgress: (p) => got.push(p) });
    expect(bytes).toBe(4 * MiB);
    expect(got.at(-1)).toEqual({ bytes: 4 * MiB, total: 4 * MiB });
    expect(out.bytes().subarray(0, img.length).equals(img)).toBe(true);
    expect(out.bytes().subarray(img.length).equals(Buffer.alloc(4 * MiB - img.length))).toBe(true);
    expect(tasksLeft()).toBe(tasks);
  });

  it('streams: progress is reported while the source is still producing', async () => {
    const vdi = await newVdi(8 * MiB);
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= 8 * MiB) return this.push(null);
        produced += 256 * 1024;
        this.push(Buffer.alloc(256 * 1024, produced / (256 * 1024)));
      },
    });
    const producedAtReport: number[] = [];
    await transfer.upload(vdi, { stream: source, length: 8 * MiB }, { onProgress: () => producedAtReport.push(produced) });
    expect(producedAtReport[0]).toBeLessThan(8 * MiB);
    const out = sink();
    await transfer.download(vdi, out.stream);
    expect(out.bytes()[8 * MiB - 1]).toBe(32);
  });

  it("surfaces the task's error when XAPI refuses the image before reading it", async () => {
    // A 2 MiB disk (SM's rounding unit) and a 4 MiB image.
    const vdi = await newVdi(2 * MiB);
    const tasks = tasksLeft();
    const err = await transfer.upload(vdi, { stream: Readable.from([Buffer.alloc(4 * MiB)]), length: 4 * MiB }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiError);
    expect((err as XapiError).code).toBe('VDI_TOO_SMALL');
    expect((err as XapiError).params).toEqual([vdi, String(4 * MiB)]);
    expect(tasksLeft()).toBe(tasks);
  });

  it("surfaces the task's error when the image turns out bad after the 200", async () => {
    const vdi = await newVdi(MiB);
    const notVhd = Buffer.alloc(64 * 1024, 0x41);
    const err = await transfer.upload(vdi, { stream: Readable.from([notVhd]), length: notVhd.length }, { format: 'vhd' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiError);
    expect((err as XapiError).code).toBe('VDI_IO_ERROR');
  });

  it('surfaces the task error when the host gives up while the body is still being sent', async () => {
    const vdi = await newVdi(8 * MiB);
    const blocks = [0, 1, 2, 3];
    const vhd = Buffer.concat([...encodeDynamicVhd(8 * MiB, blocks, () => Buffer.alloc(2 * MiB, 0x5a), Buffer.alloc(16, 1))]);
    vhd[20] ^= 1; // breaks the leading footer's checksum: rejected at the first bytes, with ~8 MiB still to send
    const err = await transfer.upload(vdi, { stream: Readable.from([vhd.subarray(0, 4096), vhd.subarray(4096)]), length: vhd.length }, { format: 'vhd' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiError);
    expect((err as XapiError).code).toBe('VDI_IO_ERROR');
    expect((err as XapiError).params).toEqual(['VHD footer checksum mismatch']);
  });

  it('fails with the session error when the session is not valid', async () => {
    const stale = new VdiTransfer({ url: sim.url, session: 'OpaqueRef:stale' });
    try {
      const vdi = await newVdi(MiB);
      const err = await stale.download(vdi, sink().stream).catch((e: unknown) => e);
      expect((err as XapiError).code).toBe('SESSION_INVALID');
      writeFileSync(join(dir, 'small.raw'), 'x');
      const up = await stale.upload(vdi, { path: join(dir, 'small.raw') }).catch((e: unknown) => e);
      expect((up as XapiError).code).toBe('SESSION_INVALID');
      await expect(transfer.upload(vdi, { path: join(dir, 'missing.raw') })).rejects.toThrow(/ENOENT/);
    } finally {
      await stale.close();
    }
  });

  it('logs in with credentials when it has no session, and logs out on close', async () => {
    const sessions = (): number => [...sim.db.all('session')].length;
    const before = sessions();
    const own = await VdiTransfer.login({ url: sim.url, user: 'root', password: 'xops' });
    expect(sessions()).toBe(before + 1);
    const vdi = await newVdi(MiB);
    await own.upload(vdi, { stream: Readable.from([Buffer.from('via login')]), length: 9 });
    const out = sink();
    await own.download(vdi, out.stream);
    expect(out.bytes().subarray(0, 9).toString()).toBe('via login');
    await own.close();
    expect(sessions()).toBe(before);
    const refused = await VdiTransfer.login({ url: sim.url, user: 'root', password: 'wrong' }).catch((e: unknown) => e);
    expect((refused as XapiError).code).toBe('SESSION_AUTHENTICATION_FAILED');
  });

  it('follows a supporter to the master when logging in', async () => {
    const pool = await startSimulator({ port: 0 });
    try {
      const own = await VdiTransfer.login({ url: pool.hostUrls[1]!, user: 'root', password: 'xops' });
      expect(own.url).toBe(`${pool.url}/`);
      const s2 = [...pool.db.all('session')][0]!.ref;
      const vdi = await jsonOk(pool.url, 'VDI.create', s2, {
        SR: pool.db.byName('SR', 'pool-nfs').ref,
        virtual_size: MiB,
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: {},
        name_label: 'on master',
      });
      await own.upload(vdi, { stream: Readable.from([Buffer.from('master')]), length: 6 });
      const out = sink();
      await own.download(vdi, out.stream);
      expect(out.bytes().subarray(0, 6).toString()).toBe('master');
      await own.close();
    } finally {
      disposeVdiContent(pool.db);
      await pool.stop();
    }
  });

  it('formats progress for a log line or a status bar', () => {
    expect(formatProgress({ bytes: 12 * MiB, total: 64 * MiB })).toBe('12.0 MiB of 64.0 MiB (18%)');
    expect(formatProgress({ bytes: 3 * MiB })).toBe('3.0 MiB');
  });
});
