import { MANAGED_KEY, VIF_KEY, type Ref, type VIFRecord } from '../../model/observed.js';
import type { ApplyContext } from '../../apply/context.js';
import type { RefLike } from '../../apply/lookup.js';
import { isOwnedBy, markCreated, ownershipMarks, writeMarks } from '../../apply/ownership.js';
import { ApplyError } from '../../apply/errors.js';
import { matchVifs } from './identity.js';
import { isXapiError, tryRecord } from '../../apply/xapi.js';

/** A VM network entry as apply receives it: the network reference possibly resolved by the planner. */
export interface VifSpec {
  network: RefLike;
  mac?: string;
}

async function vmVifs(ctx: ApplyContext, vm: Ref): Promise<[Ref, VIFRecord][]> {
  const out: [Ref, VIFRecord][] = [];
  for (const vif of await ctx.caller.call<Ref[]>('VM.get_VIFs', vm)) {
    const rec = await tryRecord<VIFRecord>(ctx.caller, 'VIF', vif);
    if (rec) out.push([vif, rec]);
  }
  return out.sort((a, b) => Number(a[1].device) - Number(b[1].device));
}

async function destroyVif(ctx: ApplyContext, vif: Ref, rec: VIFRecord): Promise<void> {
  try {
    if (rec.currently_attached) await ctx.caller.callAsync('VIF.unplug', vif);
    await ctx.caller.callAsync('VIF.destroy', vif);
  } catch (err) {
    if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
  }
}

async function createVif(
  ctx: ApplyContext,
  address: string,
  vm: Ref,
  index: number,
  device: string,
  network: Ref,
  mac: string | undefined,
  running: boolean,
): Promise<void> {
  const mtu = await ctx.caller.call<number>('network.get_MTU', network);
  const vif = await ctx.caller.callAsync<Ref>('VIF.create', {
    device,
    network,
    VM: vm,
    MAC: mac ?? '',
    MTU: Number(mtu),
    other_config: { ...ownershipMarks(ctx, address), [VIF_KEY]: String(index) },
    qos_algorithm_type: '',
    qos_algorithm_params: {},
    locking_mode: 'network_default',
    ipv4_allowed: [],
    ipv6_allowed: [],
  });
  // A repeated VIF.create leaves a twin with the same index: keep the VIF we got back.
  for (const [other, rec] of await vmVifs(ctx, vm)) {
    if (other !== vif && rec.other_config?.[VIF_KEY] === String(index) && isOwnedBy(rec.other_config, address, ctx.repo)) await destroyVif(ctx, other, rec);
  }
  if (running) await ctx.caller.callAsync('VIF.plug', vif);
}

/**
 * Makes the VM's VIFs match the manifest's `networks`. Entry i is the VIF the planner's rule
 * (identity.ts) matches: the one keyed `xops.vif = i`, or else an unkeyed VIF on device i (which
 * gets the marks);
 * missing ones are created marked in the VIF.create call; one on the wrong network is moved
 * (VIF.move); one with the wrong declared MAC is re-created on its device; marked VIFs beyond the
 * list are removed. While creating, template VIFs beyond the list are removed too.
 */
export async function convergeVifs(
  ctx: ApplyContext,
  address: string,
  vm: Ref,
  networks: readonly VifSpec[],
  creating: boolean,
): Promise<void> {
  const vifs = await vmVifs(ctx, vm);
  const running = (await ctx.caller.call<string>('VM.get_power_state', vm)) === 'Running';
  // The planner's rule (identity.ts): what it sees as networks[i] is what apply converges.
  const match = matchVifs(vifs, ([, rec]) => ({ device: rec.device, otherConfig: rec.other_config }));
  const byIndex = new Map<number, [Ref, VIFRecord]>();
  for (const [index, { vif: entry, marked }] of match.byIndex) {
    const [vif, rec] = entry;
    const oc = rec.other_config ?? {};
    if (oc[MANAGED_KEY] !== undefined && !isOwnedBy(oc, address, ctx.repo)) {
      if (marked) throw new ApplyError(address, `VIF ${rec.uuid} carries index ${index} but is marked ${oc[MANAGED_KEY]}`);
      continue;
    }
    if (!marked && index >= networks.length) {
      if (creating) await destroyVif(ctx, vif, rec); // a template VIF nobody asked for
      continue;
    }
    if (!isOwnedBy(oc, address, ctx.repo) || !marked) {
      // The template's VIFs of a VM being created are ours: marked in one call; others key first.
      if (creating && !marked) await markCreated(ctx, 'VIF', vif, address, { [VIF_KEY]: String(index) });
      else await writeMarks(ctx, 'VIF', vif, address, oc, { [VIF_KEY]: String(index) });
    }
    byIndex.set(index, entry);
  }
  if (creating) {
    for (const [vif, rec] of match.unmatched) {
      if (rec.other_config?.[MANAGED_KEY] === undefined) await destroyVif(ctx, vif, rec);
    }
  }
  for (const [i, spec] of networks.entries()) {
    const network = await ctx.lookup.resolve('Network', spec.network, address);
    const have = byIndex.get(i);
    if (have) {
      const [vif, rec] = have;
      if (spec.mac !== undefined && rec.MAC.toLowerCase() !== spec.mac.toLowerCase()) {
        await destroyVif(ctx, vif, rec);
        await createVif(ctx, address, vm, i, rec.device, network, spec.mac, running);
      } else if (rec.network !== network) {
        try {
          await ctx.caller.callAsync('VIF.move', vif, network);
        } catch (err) {
          if (!isXapiError(err, 'MESSAGE_METHOD_UNKNOWN')) throw err;
          await destroyVif(ctx, vif, rec);
          await createVif(ctx, address, vm, i, rec.device, network, rec.MAC, running);
        }
      }
      continue;
    }
    const used = new Set((await vmVifs(ctx, vm)).map(([, r]) => r.device));
    let device = i;
    while (used.has(String(device))) device++;
    await createVif(ctx, address, vm, i, String(device), network, spec.mac, running);
  }
  for (const [idx, [vif, rec]] of byIndex) {
    if (idx >= networks.length) await destroyVif(ctx, vif, rec);
  }
}
