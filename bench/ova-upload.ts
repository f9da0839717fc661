/**
 * OVA import benchmark: a 1 GiB disk (half pseudo-random data, half zeros, in 1 MiB runs) made into a
 * streamOptimized VMDK by qemu-img and packed into an OVA by GNU tar, then verified (SHA-1 and SHA-256 of every
 * member) and uploaded through the VMDK-to-raw converter into a simulator VDI. Compared with the machine's raw
 * copy speed (the same raw image read and written to another file) and with a plain raw upload of that image.
 * XOPS_BENCH_OVA_MIB sets another size. Needs qemu-img (Debian qemu-utils).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { verifyPackage } from '../src/ova/package.js';
import { uploadPackageDisk } from '../src/ova/upload.js';
import { startSimulator } from '../src/sim/index.js';
import { disposeVdiContent, vdiContentStore } from '../src/sim/vdi-content/handlers.js';
import { VdiTransfer } from '../src/xapi/vdi-transfer.js';

const MiB = 1024 * 1024;

async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export async function benchOvaUpload(): Promise<void> {
  const mib = Number(process.env.XOPS_BENCH_OVA_MIB ?? 1024);
  const size = mib * MiB;
  const dir = mkdtempSync(join(tmpdir(), 'xops-bench-ova-'));
  const sim = await startSimulator({ port: 0, multiHost: false });
  try {
    const raw = join(dir, 'disk.raw');
    const fd = openSync(raw, 'w');
    for (let at = 0; at < size; at += 2 * MiB) writeSync(fd, randomBytes(MiB), 0, MiB, at); // then 1 MiB of zeros
    closeSync(fd);
    execFileSync('truncate', ['-s', String(size), raw]);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, join(dir, 'disk1.vmdk')]);
    writeFileSync(
      join(dir, 'b.ovf'),
      `<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
<References><File ovf:id="f1" ovf:href="disk1.vmdk"/></References>
<DiskSection><Disk ovf:diskId="d1" ovf:fileRef="f1" ovf:capacity="${size}"/></DiskSection>
<VirtualSystem ovf:id="b"><VirtualHardwareSection>
<Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
<Item><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>
</VirtualHardwareSection></VirtualSystem></Envelope>\n`,
    );
    const mf = execFileSync('openssl', ['dgst', '-sha256', 'b.ovf', 'disk1.vmdk'], { cwd: dir, encoding: 'utf8' });
    writeFileSync(join(dir, 'b.mf'), mf);
    const ova = join(dir, 'b.ova');
    execFileSync('tar', ['--format=ustar', '-cf', ova, '-C', dir, 'b.ovf', 'b.mf', 'disk1.vmdk']);

    vdiContentStore(sim.db, { memoryBytes: 64 * MiB, diskBytes: 2 * size + 64 * MiB });
    const session = (await (
      await fetch(`${sim.url}/jsonrpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'session.login_with_password', params: ['root', 'xops'] }) })
    ).json()) as { result: string };
    const transfer = new VdiTransfer({ url: sim.url, session: session.result });
    const newVdi = async (): Promise<string> => {
      const sr = sim.db.byName('SR', 'pool-nfs').ref;
      const body = { jsonrpc: '2.0', id: 2, method: 'VDI.create', params: [session.result, { SR: sr, virtual_size: size, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'bench' }] };
      return ((await (await fetch(`${sim.url}/jsonrpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { result: string }).result;
    };

    const copy = await timed(() => pipeline(createReadStream(raw), createWriteStream(join(dir, 'copy.raw'))));
    rmSync(join(dir, 'copy.raw'));
    let pkg!: Awaited<ReturnType<typeof verifyPackage>>;
    const verify = await timed(async () => {
      pkg = await verifyPackage(ova);
    });
    const rawUpload = await timed(async () => transfer.upload(await newVdi(), { path: raw }));
    const ovaUpload = await timed(async () => uploadPackageDisk(transfer, await newVdi(), pkg, 'disk1.vmdk'));
    await transfer.close();

    const ovaBytes = statSync(ova).size;
    const rate = (bytes: number, s: number): string => `${(bytes / MiB / s).toFixed(0)} MiB/s`;
    const rows = [
      ['step', 'bytes', 'time', 'throughput'],
      ['raw copy (file to file)', `${mib} MiB`, `${copy.toFixed(2)} s`, rate(size, copy)],
      ['verify OVA (SHA-1 + SHA-256)', `${(ovaBytes / MiB).toFixed(0)} MiB`, `${verify.toFixed(2)} s`, rate(ovaBytes, verify)],
      ['raw image upload to simulator', `${mib} MiB`, `${rawUpload.toFixed(2)} s`, rate(size, rawUpload)],
      ['OVA disk upload (VMDK to raw)', `${mib} MiB`, `${ovaUpload.toFixed(2)} s`, rate(size, ovaUpload)],
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ') + '\n');
    process.stdout.write(`OVA disk upload is ${((size / ovaUpload / (size / copy)) * 100).toFixed(0)}% of the raw copy speed (client and simulator share one process and its CPU)\n`);
  } finally {
    disposeVdiContent(sim.db);
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
