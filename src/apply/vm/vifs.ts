import { MANAGED_KEY, type Ref, type VIFRecord } from '../../model/observed.js';
import type { ApplyContext } from '../context.js';
import type { RefLike } from '../lookup.js';
import { VIF_KEY, isOwnedBy, ownershipMarks, writeMarks } from '../ownership.js';
import { isXapiError, tryRecord } from '../xapi.js';

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

/**
 * Makes the VM's VIFs match the manifest's `networks`: entry i is the VIF marked `xops.vif = i`,
 * created marked in the VIF.create call; one on the wrong network (or with the wrong declared MAC)
 * is replaced; marked VIFs beyond the list are removed. Unmarked VIFs the VM got from its template
 * are claimed in device order while creating, and left alone otherwise.
 */
export async function convergeVifs(
  ctx: ApplyContext,
  address: string,
  vm: Ref,
  networks: readonly VifSpec[],
  claimUnmarked: boolean,
): Promise<void> {
  let vifs = await vmVifs(ctx, vm);
  if (claimUnmarked) {
    const unmarked = vifs.filter(([, rec]) => rec.other_config?.[MANAGED_KEY] === undefined);
    const taken = new Set(vifs.map(([, rec]) => rec.other_config?.[VIF_KEY]).filter((k) => k !== undefined));
    for (let i = 0; i < networks.length && unmarked.length > 0; i++) {
      if (taken.has(String(i))) continue;
      const [vif, rec] = unmarked.shift()!;
      await writeMarks(ctx, 'VIF', vif, address, rec.other_config, { [VIF_KEY]: String(i) });
    }
    // Template VIFs beyond the declared list would be networks nobody asked for.
    for (const [vif, rec] of unmarked) await destroyVif(ctx, vif, rec);
    vifs = await vmVifs(ctx, vm);
  }
  const running = (await ctx.caller.call<string>('VM.get_power_state', vm)) === 'Running';
  const byIndex = new Map<string, [Ref, VIFRecord]>();
  for (const entry of vifs) {
    const idx = entry[1].other_config?.[VIF_KEY];
    if (idx !== undefined && isOwnedBy(entry[1].other_config, address, ctx.repo)) byIndex.set(idx, entry);
  }
  for (const [i, spec] of networks.entries()) {
    const network = await ctx.lookup.resolve('Network', spec.network, address);
    const have = byIndex.get(String(i));
    if (have) {
      const [vif, rec] = have;
      const macOk = spec.mac === undefined || rec.MAC.toLowerCase() === spec.mac.toLowerCase();
      if (rec.network === network && macOk) continue;
      await destroyVif(ctx, vif, rec);
    }
    const used = new Set((await vmVifs(ctx, vm)).map(([, r]) => r.device));
    let device = 0;
    while (used.has(String(device))) device++;
    const mtu = await ctx.caller.call<number>('network.get_MTU', network);
    const vif = await ctx.caller.callAsync<Ref>('VIF.create', {
      device: String(device),
      network,
      VM: vm,
      MAC: spec.mac ?? '',
      MTU: Number(mtu),
      other_config: { ...ownershipMarks(ctx, address), [VIF_KEY]: String(i) },
      qos_algorithm_type: '',
      qos_algorithm_params: {},
      locking_mode: 'network_default',
      ipv4_allowed: [],
      ipv6_allowed: [],
    });
    if (running) await ctx.caller.callAsync('VIF.plug', vif);
  }
  for (const [idx, [vif, rec]] of byIndex) {
    if (Number(idx) >= networks.length) await destroyVif(ctx, vif, rec);
  }
}
