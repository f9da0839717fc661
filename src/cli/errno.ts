/**
 * Node's errno codes in words, for messages about local files and folders: a person reads
 * "no such folder", not ENOENT. Unknown codes are returned as they are.
 */
const WORDS: Record<string, (what: 'file' | 'folder') => string> = {
  ENOENT: (what) => `no such ${what}`,
  ENOTDIR: () => 'not a folder',
  EISDIR: () => 'is a folder, not a file',
  EACCES: () => 'permission denied',
  EPERM: () => 'operation not permitted',
  EEXIST: (what) => `${what} already exists`,
  EROFS: () => 'read-only file system',
  ENOSPC: () => 'no space left on the device',
  EMFILE: () => 'too many open files',
  ELOOP: () => 'too many levels of symbolic links',
  ENAMETOOLONG: () => 'name too long',
  ENOTEMPTY: () => 'folder not empty',
  EBUSY: () => 'busy',
};

/** `code` in words; `what` says whether the path was meant to be a file or a folder. */
export function errnoInWords(code: string | undefined, what: 'file' | 'folder' = 'file'): string {
  if (!code) return 'cannot be read';
  return WORDS[code]?.(what) ?? code;
}

/** The words for an error thrown by node:fs (its `code`), else its message. */
export function fsErrorInWords(err: unknown, what: 'file' | 'folder' = 'file'): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && /^E[A-Z]+$/.test(code)) return errnoInWords(code, what);
  return err instanceof Error ? err.message : String(err);
}

/**
 * A message that ends in a bare errno code (`cannot read manifests folder 'x': ENOENT`, as the loader
 * words it), with the code in words. A message that names a folder gets folder words.
 */
export function errnoCodesInWords(message: string): string {
  return message.replace(/(:\s*|\()(E[A-Z]{2,})(\)?)$/, (_m, before: string, code: string, after: string) => {
    const words = errnoInWords(code, /folder|directory/i.test(message) ? 'folder' : 'file');
    return words === code ? `${before}${code}${after}` : `${before}${words}${after}`;
  });
}
