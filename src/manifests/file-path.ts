/**
 * The one text rule for paths a manifest names inside its repository (a Disk's image, a VM's cloudInit
 * files): relative to the manifests folder and staying inside it. Only the text is checked here; readers
 * check again with realpath, so a symlink cannot lead outside either.
 */

/** Why `file` would leave the manifests folder, or undefined when it stays inside it. */
export function repositoryPathProblem(file: string): string | undefined {
  if (file.startsWith('/') || /^[A-Za-z]:/.test(file) || file.startsWith('\\')) return 'must be relative to the manifests folder';
  if (file.split(/[\\/]/).includes('..')) return "must stay inside the manifests folder (no '..')";
  if (file.includes('\0')) return 'must not contain a NUL character';
  return undefined;
}
