import { MANAGED_KEY, REPO_KEY, type Ref } from '../model/observed.js';
import type { Action } from '../model/plan.js';
import type { ApplyContext } from './context.js';
import { OwnershipError } from './errors.js';
import { isOwnedBy, ownershipMarks, writeMarks } from './ownership.js';
import type { ApplyClass } from './xapi.js';

/**
 * Pool and hosts are never created by xops: a manifest declares settings for an object that exists.
 * Declaring it is the claim, so apply writes the mark on first change; it still refuses an object
 * that another resource or repository has marked.
 */
export async function claimExisting(ctx: ApplyContext, action: Action, cls: ApplyClass, ref: Ref): Promise<Record<string, string>> {
  const oc = await ctx.caller.call<Record<string, string>>(`${cls}.get_other_config`, ref);
  if (oc[MANAGED_KEY] !== undefined && !isOwnedBy(oc, action.address, ctx.repo)) {
    throw new OwnershipError(action.address, `refusing to change ${cls} ${ref}: it is marked ${oc[MANAGED_KEY]}${oc[REPO_KEY] ? ` by ${oc[REPO_KEY]}` : ''}`);
  }
  await writeMarks(ctx, cls, ref, action.address, oc);
  // What writeMarks leaves there: no need to read it back.
  return { ...oc, ...ownershipMarks(ctx, action.address) };
}

/** Objects found under a resource's pending name, by what their marks prove. */
export interface PendingObjects<R> {
  /** Marked for this resource by this repository: xops made them. */
  ours: [Ref, R][];
  /** No xops mark at all: possibly a create interrupted between its creating call and its marking. */
  unmarked: [Ref, R][];
}

/**
 * Sorts the objects named `xops-pending:ADDRESS` by their marks. One that carries any other xops mark
 * (another resource, another repository) is never ours to claim, finish or destroy: OwnershipError,
 * a conflict the operator resolves. So is more than one unmarked object: nothing proves which one
 * this repository made, so none is claimed and none is destroyed as a "duplicate".
 */
export function sortPending<R>(
  cls: ApplyClass,
  address: string,
  repo: string | undefined,
  found: readonly [Ref, R][],
  otherConfig: (r: R) => Record<string, string> | undefined,
): PendingObjects<R> {
  const out: PendingObjects<R> = { ours: [], unmarked: [] };
  for (const entry of found) {
    const oc = otherConfig(entry[1]) ?? {};
    if (isOwnedBy(oc, address, repo)) out.ours.push(entry);
    else if (oc[MANAGED_KEY] === undefined && oc[REPO_KEY] === undefined) out.unmarked.push(entry);
    else {
      throw new OwnershipError(address, `refusing to claim ${cls} ${entry[0]} named xops-pending:${address}: it is marked ${oc[MANAGED_KEY] ?? '(no resource)'}${oc[REPO_KEY] ? ` by ${oc[REPO_KEY]}` : ''}`, { object: `${cls}/${entry[0]}` });
    }
  }
  if (out.unmarked.length > 1) {
    throw new OwnershipError(address, `refusing to claim any of ${out.unmarked.length} unmarked ${cls} objects named xops-pending:${address}: nothing proves which one xops made; remove the extra ones`, { object: `${cls}/${out.unmarked[0]![0]}` });
  }
  return out;
}
