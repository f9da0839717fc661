/** The volume identifier of an ISO 9660 image: the primary volume descriptor is sector 16, its id at byte 40 (32 bytes, space padded). */
export function isoVolumeLabel(image: Buffer): string {
  const pvd = image.subarray(16 * 2048, 17 * 2048);
  if (pvd[0] !== 1 || pvd.toString('latin1', 1, 6) !== 'CD001') throw new Error('no ISO 9660 primary volume descriptor');
  return pvd.toString('latin1', 40, 72).trimEnd();
}
