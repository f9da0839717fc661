import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { Transform } from 'node:stream';
import type { DesiredStandaloneDisk } from '../../model/desired.js';
import type { Ref } from '../../model/observed.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError, UnsupportedChangeError } from '../../apply/errors.js';
import { VdiTransfer, formatProgress } from '../../xapi/vdi-transfer.js';
import { imagePathProblem } from './schema.js';
import { PackageError } from '../../ova/package.js';
import { packageVerifier, uploadPackageDisk } from '../../ova/upload.js';

/**
 * A disk image inside an OVA/OVF package: every file's digest is checked against the package's
 * `.mf` before anything is written, then the member is converted (VMDK) as it streams into the VDI.
 * The content mark is the member's SHA-256 from the package manifest.
 */
/** One verifier per process: a package is hashed once however many of its disks an apply uploads. */
const verifyOnce = packageVerifier();

/** What `upload` needs, checked before anything is created: the file (and, in a package, its digests and the member). */
export async function checkImage(address: string, upload: ImageUpload): Promise<void> {
  const image = await imageFile(address, upload);
  if (upload.member === undefined) return;
  try {
    const pkg = await verifyOnce(image.path);
    if (!pkg.disks.has(upload.member)) throw new UnsupportedChangeError(address, `package '${upload.file}' has no disk image '${upload.member}'`);
  } catch (err) {
    if (err instanceof PackageError) throw new UnsupportedChangeError(address, `package '${upload.file}': ${err.message}`);
    throw err;
  }
}

async function uploadPackageMember(ctx: ApplyContext, address: string, vdi: Ref, upload: ImageUpload, path: string, virtualSize: number): Promise<string> {
  const member = upload.member!;
  let pkg;
  try {
    pkg = await verifyOnce(path);
  } catch (err) {
    if (err instanceof PackageError) throw new UnsupportedChangeError(address, `package '${upload.file}': ${err.message}`);
    throw err;
  }
  const disk = pkg.disks.get(member);
  if (!disk) throw new UnsupportedChangeError(address, `package '${upload.file}' has no disk image '${member}'`);
  if (disk.virtualSize > virtualSize) throw new UnsupportedChangeError(address, `'${member}' is a ${disk.virtualSize}-byte disk, bigger than this Disk's ${virtualSize}: make the disk bigger`);
  if (!ctx.caller.transferEndpoint) throw new ApplyError(address, 'this XAPI connection cannot upload disk content (it hands out no session)');
  const transfer = new VdiTransfer(await ctx.caller.transferEndpoint());
  try {
    ctx.log.info({ address, file: upload.file, member }, `uploading ${member} from ${upload.file} into the disk`);
    await uploadPackageDisk(transfer, vdi, pkg, member, { onProgress: progressLogger(ctx, address, `${upload.file}#${member}`) });
  } catch (err) {
    if (err instanceof PackageError) throw new UnsupportedChangeError(address, `package '${upload.file}': ${err.message}`);
    throw err;
  } finally {
    await transfer.close();
  }
  // The package manifest's own digest of the member (checked above), as `<algorithm>:<hex>`.
  const digest = pkg.digests.get(member);
  return digest ? `${digest.algorithm.toLowerCase()}:${digest.hex}` : `ova:${member}`;
}

/** The image a Disk action uploads (`details.upload`). */
export interface ImageUpload {
  file: string;
  format: 'raw' | 'vhd' | 'vmdk';
  /** The disk image inside `file` when it is an OVA/OVF package. */
  member?: string;
  /** The manifests folder `file` is relative to (relative paths: to the working directory). */
  root: string;
}

/**
 * The image file on disk, after checking it is a regular file inside the manifests folder once every
 * symlink is followed (the loader only checked the path's text).
 */
export async function imageFile(address: string, upload: ImageUpload): Promise<{ path: string; bytes: number }> {
  const problem = imagePathProblem(upload.file);
  if (problem) throw new UnsupportedChangeError(address, `image '${upload.file}' ${problem}`);
  let root: string;
  let path: string;
  try {
    root = await realpath(resolve(upload.root));
    path = await realpath(resolve(root, upload.file));
  } catch (err) {
    throw new UnsupportedChangeError(address, `image '${upload.file}' cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!path.startsWith(root + sep)) throw new UnsupportedChangeError(address, `image '${upload.file}' leads outside the manifests folder (a symlink?): refused`);
  const st = await stat(path);
  if (!st.isFile()) throw new UnsupportedChangeError(address, `image '${upload.file}' is not a regular file`);
  return { path, bytes: st.size };
}

/** Records the image's size in the document (`source.bytes`), when the file is there and inside the folder. */
export async function measureImage(doc: DesiredStandaloneDisk, root: string): Promise<void> {
  const source = doc.spec.source;
  if (!source) return;
  try {
    source.bytes = (await imageFile(`Disk/${doc.meta.name}`, { ...source, root })).bytes;
  } catch {
    // Reported by apply, which checks the file again before it uploads.
  }
}

/** Progress lines every tenth of the way: enough to follow a long upload without flooding the log. */
function progressLogger(ctx: ApplyContext, address: string, file: string): (p: { bytes: number; total?: number }) => void {
  let next = 0;
  return (p) => {
    const share = p.total ? p.bytes / p.total : 0;
    if (share < next && p.bytes !== p.total) return;
    next = Math.floor(share * 10) / 10 + 0.1;
    ctx.log.info({ address, file, bytes: p.bytes, total: p.total }, `uploading ${file}: ${formatProgress(p)}`);
  };
}

/**
 * Streams the image into the VDI through the pool's `/import_raw_vdi` handler, with progress in the
 * log, and returns `sha256:<hex>` of the bytes sent. Rejects (XapiError from the import task,
 * XapiTransportError, ApplyError) without marking anything: the caller marks the content done.
 */
export async function uploadImage(ctx: ApplyContext, address: string, vdi: Ref, upload: ImageUpload, virtualSize: number): Promise<string> {
  const image = await imageFile(address, upload);
  if (upload.member !== undefined) return uploadPackageMember(ctx, address, vdi, upload, image.path, virtualSize);
  if (upload.format === 'vmdk') throw new UnsupportedChangeError(address, `a vmdk image is read from an OVA/OVF package: name it with source.member`);
  if (upload.format === 'raw' && image.bytes > virtualSize) {
    throw new UnsupportedChangeError(address, `image '${upload.file}' holds ${image.bytes} bytes, more than the disk's ${virtualSize}: make the disk bigger`);
  }
  if (!ctx.caller.transferEndpoint) throw new ApplyError(address, 'this XAPI connection cannot upload disk content (it hands out no session)');
  const transfer = new VdiTransfer(await ctx.caller.transferEndpoint());
  const hash = createHash('sha256');
  // A transform, not a 'data' listener: a listener would start the file flowing before the upload reads it.
  const file = createReadStream(image.path);
  const stream = file.pipe(new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  }));
  file.on('error', (err) => stream.destroy(err));
  try {
    ctx.log.info({ address, file: upload.file, bytes: image.bytes }, `uploading ${upload.file} into the disk`);
    await transfer.upload(vdi, { stream, length: image.bytes }, { format: upload.format, onProgress: progressLogger(ctx, address, upload.file) });
  } finally {
    file.destroy();
    stream.destroy();
    await transfer.close();
  }
  return `sha256:${hash.digest('hex')}`;
}
