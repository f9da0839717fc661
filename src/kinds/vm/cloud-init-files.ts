/**
 * Reads the `{file: PATH}` parts of VMs' cloudInit when manifests are loaded from a folder (the kind's
 * `measure` hook), by the rule Disk images follow (kinds/disk/upload.ts): the path's text was checked by
 * the loader; here every symlink is followed and the file must still lie inside the manifests folder,
 * be a regular file and hold at most MAX_CONFIG_FILE_BYTES of UTF-8.
 */
import { open, realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { DesiredVM } from '../../model/desired.js';
import { MAX_CONFIG_FILE_BYTES } from './cloud-init.js';

/** The file's text, or why it cannot be used (one phrase, to follow the quoted path). */
export async function readRepositoryText(root: string, file: string, maxBytes: number): Promise<{ text: string } | { problem: string }> {
  let base: string;
  let path: string;
  try {
    base = await realpath(resolve(root));
    path = await realpath(resolve(base, file));
  } catch (err) {
    return { problem: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  if (!path.startsWith(base + sep)) return { problem: 'leads outside the manifests folder (a symlink?): refused' };
  const handle = await open(path, 'r');
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { problem: 'is not a regular file' };
    if (st.size > maxBytes) return { problem: `holds ${st.size} bytes, more than the ${maxBytes}-byte limit` };
    const buffer = Buffer.alloc(st.size);
    let filled = 0;
    while (filled < st.size) {
      const { bytesRead } = await handle.read(buffer, filled, st.size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const text = buffer.subarray(0, filled).toString('utf8');
    if (Buffer.byteLength(text) !== filled) return { problem: 'is not UTF-8 text' };
    return { text };
  } finally {
    await handle.close();
  }
}

/** Fills in the text of each `{file: PATH}` part of the VM's cloudInit, or the reason it could not be read. Never throws. */
export async function readCloudInitFiles(doc: DesiredVM, root: string): Promise<void> {
  const ci = doc.spec.cloudInit;
  if (!ci?.files) return;
  for (const field of ['userData', 'networkConfig'] as const) {
    const ref = ci.files[field];
    if (!ref || ref.read || ref.problem) continue;
    let got: { text: string } | { problem: string };
    try {
      got = await readRepositoryText(root, ref.path, MAX_CONFIG_FILE_BYTES);
    } catch (err) {
      got = { problem: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
    if ('problem' in got) {
      ref.problem = got.problem;
      continue;
    }
    ci[field] = got.text;
    ref.read = true;
  }
}
