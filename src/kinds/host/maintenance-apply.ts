import type { Ref } from '../../model/observed.js';
import type { Action } from '../../model/plan.js';
import type { ApplyContext } from '../../apply/context.js';
import { ApplyError } from '../../apply/errors.js';
import { tryByUuid } from '../../apply/xapi.js';
import type { MaintenanceDetails } from './maintenance.js';

/**
 * Carries out a maintenance action. Drain: host.disable first (nothing new lands there), then each planned
 * live migration (VM.pool_migrate, live), then host.evacuate for anything that arrived since the plan (it
 * refuses, with XAPI's error, rather than leave a VM stranded). Enable: host.enable.
 */
export async function applyMaintenance(action: Action, ctx: ApplyContext): Promise<void> {
  const host = action.objects.find((o) => o.cls === 'host');
  const ref = host ? await tryByUuid(ctx.caller, 'host', host.uuid) : undefined;
  if (!ref) throw new ApplyError(action.address, 'the host to put into (or out of) maintenance is gone');
  const details = action.details as unknown as MaintenanceDetails;
  if (!details.maintenance) {
    await ctx.caller.call('host.enable', ref);
    return;
  }
  await ctx.caller.call('host.disable', ref);
  for (const m of details.migrations) {
    const vm = await tryByUuid(ctx.caller, 'VM', m.vm);
    const target = await tryByUuid(ctx.caller, 'host', m.host);
    if (!vm || !target) continue;
    if ((await ctx.caller.call<Ref>('VM.get_resident_on', vm)) !== ref) continue;
    await ctx.caller.callAsync('VM.pool_migrate', vm, target, { live: 'true' });
  }
  await ctx.caller.callAsync('host.evacuate', ref);
}
