import type { PIFRecord, XapiRecord } from '../../model/observed.js';
import type { PlanContext } from '../../plan/context.js';

/** A network on a physical NIC or carrying a host's management interface: changing it cuts hosts off. */
export function networkProtection(ctx: PlanContext, network: XapiRecord): string | undefined {
  for (const ref of (network['PIFs'] ?? []) as string[]) {
    const pif = ctx.observed.records.PIF.get(ref) as PIFRecord | undefined;
    if (pif?.management) return "it carries a host's management interface";
    if (pif?.physical) return 'it carries a physical interface (a NIC of a host)';
  }
  return undefined;
}
