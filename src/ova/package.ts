/**
 * An OVF package, as one `.ova` (a tar, read as a stream and never extracted) or as a `.ovf` with its files
 * beside it: verified as a whole before anything uses it (every file against the `.mf`, every reference
 * resolved, every disk image no larger than its declared capacity), then its disks opened one at a time as raw or
 * VHD streams ready for `VdiTransfer.upload`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { ByteSource, FileSource, type PositionalFile } from './byte-source.js';
import { DigestError, DualHash, parseManifest, type DigestEntry } from './digests.js';
import { isPlainMember, OvfError, parseOvf, type OvfEnvelope } from './ovf.js';
import { tarEntries, TarError } from './tar.js';
import { isSparseVmdk, isVmdkDescriptor, parseSparseHeader, parseVmdkDescriptor, virtualBytes, vmdkToRaw, VmdkError, type SparseHeader } from './vmdk.js';

/** Any reason a package is refused. The message names the package and, where it applies, the member and line. */
export class PackageError extends Error {
  override name = 'PackageError';
}

/** Bounds on what is held in memory while verifying. */
export const PACKAGE_LIMITS = { maxDescriptorBytes: 4 * 1024 * 1024, maxManifestBytes: 1024 * 1024, headBytes: 64 * 1024 };

/** A file of the package as the verification pass saw it. */
export interface PackageMember {
  name: string;
  size: number;
  sha1: string;
  sha256: string;
  /** Its first bytes (up to 64 KiB) and last 512, for recognising disk images. */
  head: Buffer;
  tail: Buffer;
}

/** What recognising a disk image needs of a member. */
type MemberShape = Pick<PackageMember, 'name' | 'size' | 'head' | 'tail'>;

/** How a disk image is stored, as read from its content (not from the descriptor's format URI). */
export type DiskLayout = 'vmdk-streamOptimized' | 'vmdk-monolithicSparse' | 'vmdk-flat' | 'vhd' | 'raw';

/** A disk image of the package, recognised and sized. */
export interface PackageDisk {
  /** The descriptor's href: the member the Disk manifest's `source.member` names. */
  href: string;
  /** `vmdk`, `vhd` or `raw`: what the Disk manifest's `source.format` says. */
  format: 'vmdk' | 'vhd' | 'raw';
  layout: DiskLayout;
  /** Bytes of the disk the image holds. */
  virtualSize: number;
  /** The member whose bytes are read: the href, or a flat VMDK's extent file. */
  dataMember: string;
}

/** A package that passed every check; `openPackageDisk` reads its disks. */
export interface VerifiedPackage {
  path: string;
  kind: 'ova' | 'ovf';
  descriptorName: string;
  envelope: OvfEnvelope;
  members: Map<string, PackageMember>;
  digests: Map<string, DigestEntry>;
  /** By href. */
  disks: Map<string, PackageDisk>;
}

/** Reads a whole member while hashing it, keeping its head, its tail, and (for the descriptor and manifest) its text. */
async function scan(name: string, size: number, body: AsyncIterable<Buffer>, keepAll: number | undefined, what: string): Promise<{ member: PackageMember; text?: string }> {
  const hash = new DualHash();
  const head: Buffer[] = [];
  let headLen = 0;
  let tail = Buffer.alloc(0);
  const all: Buffer[] = [];
  let seen = 0;
  if (keepAll !== undefined && size > keepAll) throw new PackageError(`${what}: ${name} is ${size} bytes, over the ${keepAll}-byte limit for it`);
  for await (const c of body) {
    hash.update(c);
    seen += c.length;
    if (headLen < PACKAGE_LIMITS.headBytes) {
      const part = Buffer.from(c.subarray(0, PACKAGE_LIMITS.headBytes - headLen));
      head.push(part);
      headLen += part.length;
    }
    tail = c.length >= 512 ? Buffer.from(c.subarray(-512)) : Buffer.from(Buffer.concat([tail, c]).subarray(-512));
    if (keepAll !== undefined) all.push(Buffer.from(c));
  }
  if (seen !== size) throw new PackageError(`${what}: ${name}: read ${seen} bytes, expected ${size}`);
  const d = hash.digest();
  const member = { name, size, sha1: d.sha1, sha256: d.sha256, head: Buffer.concat(head), tail };
  return keepAll !== undefined ? { member, text: Buffer.concat(all).toString('utf8') } : { member };
}

/** Verifies the package at `path` (`.ova`, or `.ovf` with its files beside it). Throws PackageError, nothing else. */
export async function verifyPackage(path: string): Promise<VerifiedPackage> {
  const what = basename(path);
  try {
    return /\.ovf$/i.test(path) ? await verifyOvf(path, what) : await verifyOva(path, what);
  } catch (e) {
    if (e instanceof PackageError) throw e;
    if (e instanceof TarError || e instanceof OvfError || e instanceof DigestError || e instanceof VmdkError) throw new PackageError(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new PackageError(`${what}: cannot read: ${code}`);
    throw e;
  }
}

async function verifyOva(path: string, what: string): Promise<VerifiedPackage> {
  const members = new Map<string, PackageMember>();
  let descriptor: { name: string; text: string } | undefined;
  let manifest: { name: string; text: string } | undefined;
  const file = createReadStream(path);
  try {
    for await (const { entry, body } of tarEntries(new ByteSource(file, what))) {
      if (entry.type !== 'file') continue;
      if (members.has(entry.name)) throw new PackageError(`${what}: two members named ${entry.name}`);
      const isOvf = /\.ovf$/i.test(entry.name) && !descriptor;
      const isMf = /\.mf$/i.test(entry.name);
      if (isMf && manifest) throw new PackageError(`${what}: two manifests (${manifest.name}, ${entry.name})`);
      const limit = isOvf ? PACKAGE_LIMITS.maxDescriptorBytes : isMf ? PACKAGE_LIMITS.maxManifestBytes : undefined;
      const { member, text } = await scan(entry.name, entry.size, body, limit, what);
      members.set(entry.name, member);
      if (isOvf) descriptor = { name: entry.name, text: text! };
      if (isMf) manifest = { name: entry.name, text: text! };
    }
  } finally {
    file.destroy();
  }
  if (!descriptor) throw new PackageError(`${what}: no .ovf descriptor in the archive`);
  return finish(path, 'ova', what, descriptor, manifest, members);
}

async function verifyOvf(path: string, what: string): Promise<VerifiedPackage> {
  const dir = dirname(path);
  const members = new Map<string, PackageMember>();
  const scanFile = async (name: string, limit?: number): Promise<{ member: PackageMember; text?: string }> => {
    const st = await stat(join(dir, name));
    if (!st.isFile()) throw new PackageError(`${what}: ${name} is not a regular file`);
    const size = st.size;
    const stream = createReadStream(join(dir, name));
    try {
      return await scan(name, size, stream, limit, what);
    } finally {
      stream.destroy();
    }
  };
  const dname = basename(path);
  const d = await scanFile(dname, PACKAGE_LIMITS.maxDescriptorBytes);
  members.set(dname, d.member);
  const mfName = dname.replace(/\.ovf$/i, '.mf');
  let manifest: { name: string; text: string } | undefined;
  try {
    const m = await scanFile(mfName, PACKAGE_LIMITS.maxManifestBytes);
    manifest = { name: mfName, text: m.text! };
    members.set(mfName, m.member);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // The descriptor names the other files; a flat VMDK's descriptor names one more (its extent).
  const envelope = parseOvf(d.text!, `${what}`);
  const pending = envelope.files.map((f) => f.href);
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (members.has(name)) continue;
    try {
      members.set(name, (await scanFile(name)).member);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new PackageError(`${what}: the descriptor references ${name}, which is not in ${dir}`);
      throw e;
    }
    const extent = flatExtentOf(members.get(name)!, what);
    if (extent) pending.push(extent.file);
  }
  return finish(path, 'ovf', what, { name: dname, text: d.text! }, manifest, members);
}

/** A flat VMDK descriptor's one extent, or undefined when the member is not a descriptor. */
function flatExtentOf(m: MemberShape, what: string): { file: string; sectors: number } | undefined {
  if (!isVmdkDescriptor(m.head)) return undefined;
  if (m.size > PACKAGE_LIMITS.headBytes) throw new PackageError(`${what}: ${m.name}: VMDK descriptor over ${PACKAGE_LIMITS.headBytes} bytes`);
  const d = parseVmdkDescriptor(m.head.toString('utf8'), `${what}: ${m.name}`);
  const [ex, ...more] = d.extents;
  if (!ex || more.length > 0 || !(ex.type === 'FLAT' || ex.type === 'VMFS') || ex.offset !== 0 || ex.file === '')
    throw new PackageError(`${what}: ${m.name}: VMDK '${d.createType ?? '?'}' with ${d.extents.length} extent(s) is not supported: xops reads one FLAT extent, or a sparse or streamOptimized VMDK`);
  const dir = m.name.includes('/') ? m.name.slice(0, m.name.lastIndexOf('/') + 1) : '';
  // The extent is read like any member, so it must stay inside the package as well.
  if (!isPlainMember(dir + ex.file)) throw new PackageError(`${what}: ${m.name}: extent '${ex.file}' is not a plain name inside the package`);
  return { file: dir + ex.file, sectors: ex.sectors };
}

const VHD_COOKIE = 'conectix';

/** Recognises a disk image from its first and last bytes. */
function describeDisk(href: string, members: Map<string, MemberShape>, formatUri: string | undefined, what: string): PackageDisk {
  const m = members.get(href)!;
  const where = `${what}: ${href}`;
  if (isSparseVmdk(m.head)) {
    const h = parseSparseHeader(m.head, where);
    return { href, format: 'vmdk', layout: h.streamOptimized ? 'vmdk-streamOptimized' : 'vmdk-monolithicSparse', virtualSize: virtualBytes(h), dataMember: href };
  }
  const extent = flatExtentOf(m, what);
  if (extent) {
    const data = members.get(extent.file);
    if (!data) throw new PackageError(`${where}: its extent ${extent.file} is not in the package`);
    if (data.size !== extent.sectors * 512) throw new PackageError(`${where}: its extent ${extent.file} is ${data.size} bytes, the descriptor says ${extent.sectors * 512}`);
    return { href, format: 'vmdk', layout: 'vmdk-flat', virtualSize: data.size, dataMember: extent.file };
  }
  const vhdFooter = m.head.subarray(0, 8).toString('latin1') === VHD_COOKIE ? m.head : m.tail.subarray(0, 8).toString('latin1') === VHD_COOKIE ? m.tail : undefined;
  if (vhdFooter && vhdFooter.length >= 512) {
    const type = vhdFooter.readUInt32BE(60);
    if (type !== 2 && type !== 3) throw new PackageError(`${where}: VHD disk type ${type} is not supported (fixed and dynamic are; differencing needs its parent)`);
    return { href, format: 'vhd', layout: 'vhd', virtualSize: Number(vhdFooter.readBigUInt64BE(48)), dataMember: href };
  }
  if (m.head.subarray(0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) throw new PackageError(`${where}: a qcow2 image; xops imports VMDK, VHD and raw images`);
  if (formatUri && /vmdk|vhd/i.test(formatUri)) throw new PackageError(`${where}: the descriptor says ${formatUri}, but the file is not one`);
  return { href, format: 'raw', layout: 'raw', virtualSize: m.size, dataMember: href };
}

function finish(
  path: string,
  kind: 'ova' | 'ovf',
  what: string,
  descriptor: { name: string; text: string },
  manifest: { name: string; text: string } | undefined,
  members: Map<string, PackageMember>,
): VerifiedPackage {
  if (!manifest) throw new PackageError(`${what}: no .mf manifest, so its files' digests cannot be checked; add one ('openssl dgst -sha256 FILE...' prints its lines)`);
  const digests = parseManifest(manifest.text, `${what}: ${manifest.name}`);
  for (const entry of digests.values()) {
    const m = members.get(entry.file);
    if (!m) throw new PackageError(`${what}: ${manifest.name} line ${entry.line} lists ${entry.file}, which is not in the package`);
    if (m[entry.algorithm] !== entry.hex)
      throw new PackageError(`${what}: ${entry.file}: ${entry.algorithm.toUpperCase()} digest ${m[entry.algorithm]} does not match the manifest's ${entry.hex} (the file is corrupt or was changed)`);
  }
  for (const name of members.keys())
    if (name !== manifest.name && !/\.cert$/i.test(name) && !digests.has(name)) throw new PackageError(`${what}: ${name} is not listed in ${manifest.name}, so it cannot be checked`);
  const envelope = parseOvf(descriptor.text, `${what}: ${descriptor.name}`);
  for (const f of envelope.files) {
    const m = members.get(f.href);
    if (!m) throw new PackageError(`${what}: the descriptor references ${f.href}, which is not in the package`);
    if (f.size !== undefined && f.size !== m.size) throw new PackageError(`${what}: ${f.href} is ${m.size} bytes, the descriptor says ${f.size}`);
  }
  const disks = new Map<string, PackageDisk>();
  for (const sys of envelope.systems)
    for (const d of sys.disks) {
      if (!d.file) continue;
      const disk = describeDisk(d.file.href, members, d.format, what);
      if (disk.virtualSize > d.capacity)
        throw new PackageError(`${what}: ${d.file.href} holds a disk of ${disk.virtualSize} bytes, larger than the ${d.capacity} bytes the descriptor declares for '${d.diskId}'`);
      disks.set(d.file.href, disk);
    }
  return { path, kind, descriptorName: descriptor.name, envelope, members, digests, disks };
}

/** What `VdiTransfer.upload(vdi, {stream, length}, {format})` takes, plus the disk's size for creating the VDI. */
export interface DiskUpload {
  stream: Readable;
  length: number;
  format: 'raw' | 'vhd';
  /** Bytes: create the VDI at least this large. */
  virtualSize: number;
}

/** The bytes of one member, re-hashed as they stream; throws at its end if they differ from the manifest. */
async function* memberBytes(pkg: VerifiedPackage, name: string): AsyncGenerator<Buffer> {
  const what = `${basename(pkg.path)}: ${name}`;
  const expected = pkg.digests.get(name)!;
  // Only the manifest's algorithm: this hash runs while the upload waits on it.
  const hash = createHash(expected.algorithm);
  const check = (): void => {
    if (hash.digest('hex') !== expected.hex) throw new PackageError(`${what}: changed since it was verified (its ${expected.algorithm.toUpperCase()} digest no longer matches the manifest)`);
  };
  if (pkg.kind === 'ovf') {
    const file = createReadStream(join(dirname(pkg.path), name));
    try {
      for await (const c of file as AsyncIterable<Buffer>) {
        hash.update(c);
        yield c;
      }
    } finally {
      file.destroy();
    }
    check();
    return;
  }
  const file = createReadStream(pkg.path);
  try {
    for await (const { entry, body } of tarEntries(new ByteSource(file, basename(pkg.path)))) {
      if (entry.type !== 'file' || entry.name !== name) continue;
      for await (const c of body) {
        hash.update(c);
        yield c;
      }
      check();
      return;
    }
  } catch (e) {
    if (e instanceof TarError) throw new PackageError(e.message);
    throw e;
  } finally {
    file.destroy();
  }
  throw new PackageError(`${what}: no longer in the package`);
}

/**
 * Yields `chunks` but holds the last one back until `finish` has run, so that a failure found at the very end
 * (a digest mismatch) reaches the upload before its final bytes do, and the host never sees a complete body.
 */
async function* holdingLast(chunks: AsyncIterable<Buffer>, finish: () => Promise<void>): AsyncGenerator<Buffer> {
  let last: Buffer | undefined;
  for await (const c of chunks) {
    if (last) yield last;
    last = c;
  }
  await finish();
  if (last) yield last;
}

/**
 * Opens disk `href` of a verified package for upload: a VMDK as the raw disk (converted as it streams), a VHD as
 * itself (XAPI decodes VHD), a raw image as itself. The stream fails (and so the upload) if the member is corrupt
 * or no longer matches the manifest. Nothing is read until the stream is.
 */
export function openPackageDisk(pkg: VerifiedPackage, href: string): DiskUpload {
  const disk = pkg.disks.get(href);
  if (!disk) throw new PackageError(`${basename(pkg.path)}: ${href} is not a disk image of this package`);
  const src = new ByteSource(memberBytes(pkg, disk.dataMember), `${basename(pkg.path)}: ${disk.dataMember}`);
  const member = pkg.members.get(disk.dataMember)!;
  let body: AsyncIterable<Buffer>;
  let length: number;
  if (disk.layout === 'vmdk-streamOptimized' || disk.layout === 'vmdk-monolithicSparse') {
    const header: SparseHeader = parseSparseHeader(member.head, src.what);
    body = vmdkToRaw(src, header);
    length = disk.virtualSize;
  } else {
    body = src.take(member.size);
    length = member.size;
  }
  const drain = async (): Promise<void> => {
    while (await src.chunk(1024 * 1024));
  };
  const wrapped = (async function* () {
    try {
      yield* holdingLast(body, drain);
    } catch (e) {
      if (e instanceof VmdkError || e instanceof TarError) throw new PackageError(e.message);
      throw e;
    }
  })();
  return { stream: Readable.from(wrapped, { objectMode: false, highWaterMark: 1024 * 1024 }), length, format: disk.format === 'vhd' ? 'vhd' : 'raw', virtualSize: disk.virtualSize };
}

/** What a plan shows of a package without reading it whole: its virtual systems and its disks' sizes. */
export interface PackageOutline {
  envelope: OvfEnvelope;
  /** By href; disks whose file is missing are left out (verification refuses them). */
  disks: Map<string, PackageDisk>;
}

/**
 * Reads only the descriptor and the first and last bytes of each disk image (an OVA's members are skipped by
 * seeking), for a plan's "2 disks, 40 GiB to upload". Checks nothing against the manifest: `verifyPackage` does
 * that before apply creates anything. Throws PackageError.
 */
export async function outlinePackage(path: string): Promise<PackageOutline> {
  const what = basename(path);
  const members = new Map<string, MemberShape>();
  let descriptor: string | undefined;
  const peek = async (fh: PositionalFile, name: string, start: number, size: number): Promise<void> => {
    const head = Buffer.alloc(Math.min(size, PACKAGE_LIMITS.headBytes));
    await fh.read(head, 0, head.length, start);
    const tail = Buffer.alloc(Math.min(size, 512));
    await fh.read(tail, 0, tail.length, start + size - tail.length);
    members.set(name, { name, size, head, tail });
  };
  try {
    if (/\.ovf$/i.test(path)) {
      const { size } = await stat(path);
      if (size > PACKAGE_LIMITS.maxDescriptorBytes) throw new PackageError(`${what}: descriptor over ${PACKAGE_LIMITS.maxDescriptorBytes} bytes`);
      const fhd = await open(path);
      try {
        const buf = Buffer.alloc(size);
        await fhd.read(buf, 0, size, 0);
        descriptor = buf.toString('utf8');
      } finally {
        await fhd.close();
      }
      const envelope = parseOvf(descriptor, what);
      for (const f of envelope.files) {
        const file = join(dirname(path), f.href);
        const st = await stat(file).catch(() => undefined);
        if (!st?.isFile()) continue;
        const fh = await open(file);
        try {
          await peek(fh, f.href, 0, st.size);
        } finally {
          await fh.close();
        }
        const extent = flatExtentOf(members.get(f.href)!, what);
        const ext = extent && (await stat(join(dirname(path), extent.file)).catch(() => undefined));
        if (extent && ext?.isFile()) members.set(extent.file, { name: extent.file, size: ext.size, head: Buffer.alloc(0), tail: Buffer.alloc(0) });
      }
      return { envelope, disks: outlineDisks(envelope, members, what) };
    }
    const fh = await open(path);
    try {
      const src = new FileSource(fh, (await fh.stat()).size, what);
      for await (const { entry, body } of tarEntries(src)) {
        if (entry.type !== 'file') continue;
        if (/\.ovf$/i.test(entry.name) && descriptor === undefined) {
          if (entry.size > PACKAGE_LIMITS.maxDescriptorBytes) throw new PackageError(`${what}: ${entry.name} is over ${PACKAGE_LIMITS.maxDescriptorBytes} bytes`);
          const parts: Buffer[] = [];
          for await (const c of body) parts.push(c);
          descriptor = Buffer.concat(parts).toString('utf8');
          continue;
        }
        await peek(fh, entry.name, src.position, entry.size);
      }
    } finally {
      await fh.close();
    }
    if (descriptor === undefined) throw new PackageError(`${what}: no .ovf descriptor in the archive`);
    const envelope = parseOvf(descriptor, what);
    return { envelope, disks: outlineDisks(envelope, members, what) };
  } catch (e) {
    if (e instanceof PackageError) throw e;
    if (e instanceof TarError || e instanceof OvfError || e instanceof VmdkError) throw new PackageError(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new PackageError(`${what}: cannot read: ${code}`);
    throw e;
  }
}

function outlineDisks(envelope: OvfEnvelope, members: Map<string, MemberShape>, what: string): Map<string, PackageDisk> {
  const disks = new Map<string, PackageDisk>();
  for (const sys of envelope.systems)
    for (const d of sys.disks) if (d.file && members.has(d.file.href)) disks.set(d.file.href, describeDisk(d.file.href, members, d.format, what));
  return disks;
}
