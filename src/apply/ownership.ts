import { MANAGED_KEY, REPO_KEY, SPEC_KEY, type Ref } from '../model/observed.js';
import type { ApplyContext } from './context.js';
import { OwnershipError } from './errors.js';
import { isOwnedBy } from './marks.js';

export { isOwnedBy, marksOwner } from './marks.js';
import { isXapiError, syncMapKeys, type ApplyClass } from './xapi.js';

/** Set while an object is being created; removed when the create finished. See docs/apply.md. */
export const PENDING_KEY = 'xops.pending';

/**
 * The name_label an object carries between its creating call and the call that marks it, for
 * classes whose create cannot write other_config (VM.clone, SR.create, VM_appliance.create). A
 * crashed apply leaves an object with this name; the next run finds it by name and finishes it.
 */
export function pendingName(address: string): string {
  return `xops-pending:${address}`;
}

/** The other_config keys that claim an object for a resource of this repository. */
export function ownershipMarks(ctx: ApplyContext, address: string): Record<string, string> {
  return ctx.repo === undefined ? { [MANAGED_KEY]: address } : { [MANAGED_KEY]: address, [REPO_KEY]: ctx.repo };
}

/**
 * Re-reads the object's other_config just before a change and refuses (OwnershipError) unless it
 * carries this resource's mark. Returns the other_config read, or undefined when the object is gone.
 */
export async function assertOwned(
  ctx: ApplyContext,
  cls: ApplyClass,
  ref: Ref,
  address: string,
): Promise<Record<string, string> | undefined> {
  let oc: Record<string, string>;
  try {
    oc = await ctx.caller.call<Record<string, string>>(`${cls}.get_other_config`, ref);
  } catch (err) {
    if (isXapiError(err, 'HANDLE_INVALID')) return undefined;
    throw err;
  }
  if (!isOwnedBy(oc, address, ctx.repo)) {
    const found = oc[MANAGED_KEY] ? `marked ${oc[MANAGED_KEY]}${oc[REPO_KEY] ? ` by ${oc[REPO_KEY]}` : ''}` : 'not marked by xops';
    throw new OwnershipError(address, `refusing to change ${cls} ${ref}: it is ${found}`, { object: `${cls}/${ref}` });
  }
  return oc;
}

/**
 * Writes the ownership mark (and extra keys) onto an existing object, keeping its other keys, one
 * key at a time: the extra (identity) keys first, so an interrupted write leaves the identity
 * readable (see kinds/vm/identity.ts) and the next run completes the marks.
 */
export async function writeMarks(
  ctx: ApplyContext,
  cls: ApplyClass,
  ref: Ref,
  address: string,
  current: Record<string, string> | undefined,
  extra: Record<string, string> = {},
  remove: readonly string[] = [],
): Promise<void> {
  await syncMapKeys(ctx.caller, cls, ref, 'other_config', current, { ...extra, ...ownershipMarks(ctx, address) }, remove);
}

/**
 * Marks an object xops itself just created but could not mark in the creating call (a clone, a
 * disk VM.provision made): re-reads other_config and writes it whole with the marks added, in one
 * `set_other_config` call, so the object is either fully marked or not at all. Only for objects
 * nobody else writes yet: a concurrent writer's key added between the read and the write would be lost.
 */
export async function markCreated(
  ctx: ApplyContext,
  cls: ApplyClass,
  ref: Ref,
  address: string,
  extra: Record<string, string> = {},
): Promise<void> {
  const current = await ctx.caller.call<Record<string, string>>(`${cls}.get_other_config`, ref);
  const want = { ...current, ...ownershipMarks(ctx, address), ...extra };
  if (Object.entries(want).every(([k, v]) => current[k] === v)) return;
  await ctx.caller.call(`${cls}.set_other_config`, ref, want);
}

/** Records the digest of the spec just applied, so the next plan can tell drift from manifest edits. */
export async function writeSpecDigest(
  ctx: ApplyContext,
  cls: ApplyClass,
  ref: Ref,
  current: Record<string, string> | undefined,
  digest: string | undefined,
): Promise<void> {
  if (digest === undefined) return;
  await syncMapKeys(ctx.caller, cls, ref, 'other_config', current, { [SPEC_KEY]: digest });
}
