import { createHash } from 'node:crypto';

/**
 * A file's name when sent by digest (`POST /plan`, see controller/file-store.ts): the SHA-256 of
 * its bytes in lower-case hex. The client and the controller compute it alike.
 */
export function fileDigest(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}
