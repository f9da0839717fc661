import type { ResourceKind } from '../model/kinds.js';
import type { PlanContext } from './context.js';
import { automation } from './context.js';
import type { ObjectMark } from './ownership-marks.js';
import { ownedByThisRepo } from './ownership.js';

/**
 * Whether objects xops manages but no manifest declares any more may be deleted: the `prune` option,
 * else the matching Policy's `automation.prune` (off by default).
 */
export function pruneAllowed(ctx: PlanContext, kind: ResourceKind, name: string, labels?: Record<string, string>): boolean {
  return (ctx.options.prune ?? automation(ctx, kind, name, labels).prune) && (ctx.options.limits?.prune ?? true);
}

/** Notes a delete that prune being off holds back, so the operator sees what would go. */
export function wouldPrune(ctx: PlanContext, address: string, what: string): void {
  ctx.diagnostics.push({
    severity: 'warning',
    code: 'would-prune',
    address,
    message: `${what} is no longer declared; it would be deleted with prune on`,
  });
}

/**
 * The manifest name in a mark of this kind that no manifest declares any more, when the object is
 * this repository's to prune; else undefined. `ctx.owners` holds every declared address.
 */
export function orphanName(ctx: PlanContext, kind: ResourceKind, mark: ObjectMark): string | undefined {
  const address = mark.address;
  if (!address?.startsWith(`${kind}/`) || ctx.owners.has(address) || !ownedByThisRepo(ctx, mark)) return undefined;
  return address.slice(kind.length + 1);
}
