import { MANAGED_KEY, type Ref } from '../model/observed.js';
import type { Action } from '../model/plan.js';
import type { ApplyContext } from './context.js';
import { ApplyError, UnsupportedChangeError } from './errors.js';
import { isOwnedBy, writeMarks } from './ownership.js';
import type { ApplyClass } from './xapi.js';

/**
 * Takes over the unmanaged object an adopt action names (its first object of class `cls`): writes
 * the ownership mark, refusing if another resource or repository already marked it. The caller then
 * runs the action's changes as an update.
 */
export async function adoptObject(ctx: ApplyContext, action: Action, cls: ApplyClass): Promise<Ref> {
  const target = action.objects.find((o) => o.cls === cls);
  if (!target) throw new UnsupportedChangeError(action.address, `adopt action names no ${cls} object`);
  const oc = await ctx.caller.call<Record<string, string>>(`${cls}.get_other_config`, target.ref);
  if (oc[MANAGED_KEY] !== undefined && !isOwnedBy(oc, action.address, ctx.repo)) {
    throw new ApplyError(action.address, `refusing to adopt ${cls} ${target.uuid}: it is already marked ${oc[MANAGED_KEY]}`);
  }
  await writeMarks(ctx, cls, target.ref, action.address, oc);
  return target.ref;
}
