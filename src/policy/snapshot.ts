import type { Action } from '../model/plan.js';

/** Every pre-change snapshot xops takes is named with this prefix, so `xops-pre-*` finds them all. */
export const SNAPSHOT_PREFIX = 'xops-pre-';

/**
 * The name_label for the snapshot taken before `action` at `at`:
 * `xops-pre-<action id>-<UTC time>`, e.g. `xops-pre-update-VM-web01-20250308T020000Z`. Characters of the
 * action id outside `[A-Za-z0-9._-]` become `-` so the name is safe to type and to glob.
 */
export function snapshotName(action: Pick<Action, 'id'>, at: Date): string {
  const id = action.id.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${SNAPSHOT_PREFIX}${id}-${stamp}`;
}
