import { MANAGED_KEY, VIF_KEY, type Ref, type VIFRecord } from '../../model/observed.js';
import type { ApplyContext } from '../../apply/context.js';
import type { RefLike } from '../../apply/lookup.js';
import { isOwnedBy, ownershipMarks, writeMarks } from '../../apply/ownership.js';
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
 * Makes the VM's VIFs match the manifest's `networks`. Entry i is the VIF marked `xops.vif = i`, or
 * else an unmarked VIF on device i (which gets the mark, as the planner matches it the same way);
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
  const byIndex = new Map<number, [Ref, VIFRecord]>();
  for (const entry of vifs) {
    const idx = entry[1].other_config?.[VIF_KEY];
    if (idx !== undefined && /^\d+$/.test(idx) && isOwnedBy(entry[1].other_config, address, ctx.repo)) byIndex.set(Number(idx), entry);
  }
  for (const [vif, rec] of vifs) {
    if (rec.other_config?.[MANAGED_KEY] !== undefined) continue;
    const device = Number(rec.device);
    if (/^\d+$/.test(rec.device) && device < networks.length && !byIndex.has(device)) {
      await writeMarks(ctx, 'VIF', vif, address, rec.other_config, { [VIF_KEY]: String(device) });
      byIndex.set(device, [vif, rec]);
    } else if (creating) {
      // Template VIFs beyond the declared list would be networks nobody asked for.
      await destroyVif(ctx, vif, rec);
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
