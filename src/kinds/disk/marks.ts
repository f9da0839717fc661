/**
 * The keys a standalone disk's VDI carries in other_config besides the ownership mark. They are
 * written by the VDI.create call itself, so no VDI of a Disk ever exists without them.
 */

/** `true` on every VDI xops made for a Disk manifest: what `xops export` writes Disk manifests for. */
export { STANDALONE_KEY } from '../../model/observed.js';
/**
 * The state of the disk's image: `pending` from creation until the upload finished, then
 * `sha256:<hex>` of the bytes uploaded. Only a VDI whose content is not pending counts as done.
 */
export const CONTENT_KEY = 'xops.content';
/** The image file (as the manifest named it) the disk's content came from. */
export const SOURCE_KEY = 'xops.source';
export const CONTENT_PENDING = 'pending';

/** Whether a VDI's image is written: no source was declared, or its upload finished. */
export function contentComplete(otherConfig: Record<string, string> | undefined): boolean {
  const mark = otherConfig?.[CONTENT_KEY];
  return mark === undefined || mark.startsWith('sha256:');
}
