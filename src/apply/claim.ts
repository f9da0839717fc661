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
