/**
 * JSON paths as diagnostics print them: `spec.disks[0].size`, with keys that are not plain
 * identifiers quoted (`metadata.labels["app.kubernetes.io/name"]`).
 */
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  const part = PLAIN_KEY.test(key) ? key : JSON.stringify(key);
  if (parent === '') return PLAIN_KEY.test(key) ? key : `[${part}]`;
  return PLAIN_KEY.test(key) ? `${parent}.${key}` : `${parent}[${part}]`;
}

/** Converts an ajv instancePath (a JSON Pointer, `/spec/disks/0/size`) to our path form. */
export function pointerToPath(pointer: string, data: unknown): string {
  if (pointer === '') return '';
  let path = '';
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(segment)) {
      path = childPath(path, Number(segment));
      node = node[Number(segment)];
    } else {
      path = childPath(path, segment);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

/** The parent of a path (`spec.disks[0]` → `spec.disks`), or undefined at the root. */
export function parentPath(path: string): string | undefined {
  if (path === '') return undefined;
  if (path.endsWith(']')) {
    // Either `[3]` or `["quoted key"]`; find the bracket that opens it.
    const open = path.endsWith('"]') ? path.lastIndexOf('["') : path.lastIndexOf('[');
    return path.slice(0, open);
  }
  const dot = path.lastIndexOf('.');
  const bracket = path.lastIndexOf(']');
  if (dot > bracket) return path.slice(0, dot);
  return bracket >= 0 ? path.slice(0, bracket + 1) : '';
}
