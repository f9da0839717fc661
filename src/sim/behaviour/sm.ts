/**
 * What the storage manager (SM) backends decide about VDI sizes and SR space, and how their refusals reach the
 * client. XAPI itself never raises SR_FULL; it passes on the SM driver's XML-RPC fault as
 * SR_BACKEND_FAILURE_<code> ["", message, stderr] (xen-api ocaml/xapi/sm_exec.ml). The codes and messages are
 * SM's (xapi-project/sm libs/sm/core/XE_SR_ERRORCODES.xml):
 *
 * - 44 SRNoSpace "There is insufficient space": a thick (LVM) SR whose volume group cannot hold the new volume
 *   (LVHDSR._ensureSpaceAvailable, on create, resize, clone and snapshot). File-based SRs (NFS, EXT, SMB) are
 *   thin: FileSR creates sparse VHDs and never checks free space, so they overcommit.
 * - 79 VDISize "VDI Invalid size": negative or above the VHD maximum of 2040 GiB (vhdutil.validate_and_round_vhd_size),
 *   or a shrink ("shrinking not allowed").
 *
 * VHD sizes are rounded up to the 2 MiB block size, at least one block.
 */
import type { SimDatabase } from '../database.js';
import { fail } from '../errors.js';

const MiB = 1024 ** 2;
/** vhdutil.MAX_VHD_SIZE. */
export const MAX_VHD_SIZE = 2040 * 1024 * MiB;
const VHD_BLOCK = 2 * MiB;

/** SR types whose VDIs are VHD files or VHD-on-LVM volumes (size rules apply). */
const VHD_TYPES = new Set(['nfs', 'ext', 'smb', 'lvm', 'lvmoiscsi', 'lvmohba', 'file']);
/** SR types provisioned thick unless sm_config.allocation says thin. */
const THICK_BY_DEFAULT = new Set(['lvm', 'lvmoiscsi', 'lvmohba']);

/** SR_BACKEND_FAILURE_<code> as XAPI relays an SM fault. */
export function smFailure(code: number, message: string, opterr?: string): never {
  throw fail(`SR_BACKEND_FAILURE_${code}`, '', opterr ? `${message} [opterr=${opterr}]` : message, '');
}

/** True when VDIs of this SR take their full size from the SR at creation (thick LVM). */
export function isThick(sr: Record<string, unknown>): boolean {
  const allocation = (sr.sm_config as Record<string, string> | undefined)?.allocation;
  if (allocation === 'thick' || allocation === 'thin') return allocation === 'thick';
  return THICK_BY_DEFAULT.has(String(sr.type));
}

/** Free bytes the SR's backend has: physical size minus what its volumes occupy. */
export function srFreeSpace(sr: Record<string, unknown>): number {
  return Math.max(0, (Number(sr.physical_size) || 0) - (Number(sr.physical_utilisation) || 0));
}

/** The virtual size the backend really creates for a requested one, or SR_BACKEND_FAILURE_79 when it cannot. */
export function vdiSizeFor(sr: Record<string, unknown>, requested: number): number {
  if (!VHD_TYPES.has(String(sr.type))) return requested;
  if (requested < 0 || requested > MAX_VHD_SIZE) {
    smFailure(79, 'VDI Invalid size', `VDI size must be between 1 MB and ${MAX_VHD_SIZE / MiB} MB`);
  }
  return Math.max(VHD_BLOCK, Math.ceil(requested / VHD_BLOCK) * VHD_BLOCK);
}

/** Bytes a new VDI of `virtualSize` occupies on the SR right away: all of it when thick, a VHD header when thin. */
export function initialUtilisation(sr: Record<string, unknown>, virtualSize: number): number {
  return isThick(sr) ? virtualSize : Math.floor(virtualSize / 4);
}

/** SR_BACKEND_FAILURE_44 unless a thick SR can give `extra` more bytes (thin SRs always can). */
export function assertSpace(db: SimDatabase, sr: string, extra: number): void {
  const r = db.expect('SR', sr).rec;
  if (extra > 0 && isThick(r) && extra > srFreeSpace(r)) smFailure(44, 'There is insufficient space');
}
