/**
 * The OVF manifest (`.mf`): one `ALGO(file)= hexdigest` line per file of the package, SHA-1 (OVF 1.x) or
 * SHA-256 (OVF 2.x, and ovftool's default since 4.x).
 */
import { createHash, type Hash } from 'node:crypto';

/** A manifest that cannot be read, or a file whose digest differs from it. */
export class DigestError extends Error {
  override name = 'DigestError';
}

export type DigestAlgorithm = 'sha1' | 'sha256';

/** One line of the manifest. */
export interface DigestEntry {
  file: string;
  algorithm: DigestAlgorithm;
  /** Lower-case hex. */
  hex: string;
  line: number;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha1: 40, sha256: 64 };

/** Parses the manifest text; every non-empty line must be a digest line, and a file may be listed once. */
export function parseManifest(text: string, what: string): Map<string, DigestEntry> {
  const out = new Map<string, DigestEntry>();
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(SHA1|SHA256|SHA2-256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)$/.exec(line);
    if (!m) throw new DigestError(`${what}: line ${i + 1}: not a digest line (expected 'SHA256(file)= hex')`);
    if (m[1] === 'SHA512') throw new DigestError(`${what}: line ${i + 1}: SHA512 digests are not supported (SHA1 and SHA256 are)`);
    // OpenSSL 3's `openssl dgst -sha256` writes SHA2-256.
    const algorithm = (m[1] === 'SHA2-256' ? 'sha256' : m[1]!.toLowerCase()) as DigestAlgorithm;
    const hex = m[3]!.toLowerCase();
    if (hex.length !== HEX_LENGTH[algorithm]) throw new DigestError(`${what}: line ${i + 1}: a ${m[1]} digest has ${HEX_LENGTH[algorithm]} hex digits, not ${hex.length}`);
    const file = m[2]!.replace(/^\.\//, '');
    if (out.has(file)) throw new DigestError(`${what}: line ${i + 1}: ${file} is listed twice`);
    out.set(file, { file, algorithm, hex, line: i + 1 });
  }
  return out;
}

/** SHA-1 and SHA-256 of a stream, fed chunk by chunk (the manifest may come after the file it lists). */
export class DualHash {
  private readonly h1: Hash = createHash('sha1');
  private readonly h256: Hash = createHash('sha256');

  update(chunk: Buffer): void {
    this.h1.update(chunk);
    this.h256.update(chunk);
  }

  /** The hex digests; call once. */
  digest(): Record<DigestAlgorithm, string> {
    return { sha1: this.h1.digest('hex'), sha256: this.h256.digest('hex') };
  }
}
