/**
 * The one call a Disk applier makes to put an OVF package's disk into a VDI, and a verifier that checks each
 * package once per run however many of its disks are uploaded.
 */
import { stat } from 'node:fs/promises';
import type { TransferOptions, UploadSource } from '../xapi/vdi-transfer.js';
import { openPackageDisk, verifyPackage, type VerifiedPackage } from './package.js';

/** What uploading needs from `VdiTransfer` (so tests and callers can pass the real one or a wrapper). */
export interface DiskUploader {
  upload(vdi: string, source: UploadSource, opts?: TransferOptions): Promise<void>;
}

/**
 * Streams disk `member` of the verified package into `vdi` (ref or uuid; create it at least
 * `pkg.disks.get(member).virtualSize` bytes): VMDK converted to raw on the way, VHD and raw as they are. Rejects
 * with PackageError when the member is corrupt or changed since verification (the host never receives the whole
 * body then), or with VdiTransfer's XapiError / XapiTransportError. `opts.format` is chosen here and ignored.
 */
export async function uploadPackageDisk(transfer: DiskUploader, vdi: string, pkg: VerifiedPackage, member: string, opts: TransferOptions = {}): Promise<void> {
  const disk = openPackageDisk(pkg, member);
  try {
    await transfer.upload(vdi, { stream: disk.stream, length: disk.length }, { ...opts, format: disk.format });
  } catch (e) {
    // The stream's own error (a digest mismatch) is the cause when the upload died of it.
    const cause = (disk.stream as { errored?: unknown }).errored;
    throw cause instanceof Error ? cause : e;
  }
}

/**
 * Verifies packages by path, each at most once while its size and modification time stay the same, so an apply
 * that uploads several disks of one OVA reads it in full once before creating anything.
 */
export function packageVerifier(): (path: string) => Promise<VerifiedPackage> {
  const seen = new Map<string, { key: string; pkg: Promise<VerifiedPackage> }>();
  return async (path) => {
    const s = await stat(path);
    const key = `${s.size}:${s.mtimeMs}`;
    const hit = seen.get(path);
    if (hit && hit.key === key) return hit.pkg;
    const pkg = verifyPackage(path);
    seen.set(path, { key, pkg });
    pkg.catch(() => seen.delete(path));
    return pkg;
  };
}
