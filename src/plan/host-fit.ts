/**
 * Whether a host can run a VM for its storage and networks: the checks XAPI makes before it starts
 * or migrates one there (xen-api `ocaml/xapi/xapi_vm_helpers.ml`, `assert_can_see_SRs` and
 * `assert_can_see_networks`, the latter in `ocaml/xapi/xapi_network_attach_helpers.ml`,
 * `assert_can_see_named_networks`). A plan that moves a VM (a drain, an anti-affinity spread) asks
 * this first, so it never plans a migration the pool refuses with VM_REQUIRES_SR or
 * VM_REQUIRES_NETWORK.
 */
import type { HostRecord, NetworkRecord, Ref, VMRecord } from '../model/observed.js';
import type { PlanContext } from './context.js';

/** The network other_config key that makes XAPI take a network without PIFs as present on every host. */
const ASSUME_SHARED = 'assume_network_is_shared';

/** Why `host` cannot run `vm` for lack of its storage or networks, or undefined when it can. */
export function cannotRunOn(ctx: PlanContext, vm: VMRecord, host: HostRecord, hostRef: Ref): string | undefined {
  const attached = new Set<string>();
  for (const pbd of ctx.observed.records.PBD.values()) if (pbd.host === hostRef && pbd.currently_attached) attached.add(pbd.SR);
  for (const vbdRef of vm.VBDs) {
    const vbd = ctx.index.get('VBD', vbdRef);
    if (!vbd || vbd['empty'] === true) continue;
    const vdi = ctx.index.get('VDI', vbd.VDI);
    if (vdi && !attached.has(vdi.SR)) return `its disk on SR '${ctx.index.get('SR', vdi.SR)?.name_label ?? vdi.SR}' is not reachable from ${host.name_label} (VM_REQUIRES_SR)`;
  }
  for (const vifRef of vm.VIFs) {
    const vif = ctx.index.get('VIF', vifRef);
    const net = vif ? ctx.index.get('network', vif.network) : undefined;
    if (net && !networkOnHost(ctx, net, hostRef)) {
      return net.PIFs.length > 0
        ? `its network '${net.name_label}' has no PIF on ${host.name_label} (VM_REQUIRES_NETWORK)`
        : `its network '${net.name_label}' is internal to the host its running VMs are on, and ${host.name_label} is not that host (VM_REQUIRES_NETWORK; other_config:${ASSUME_SHARED}=true makes XAPI take it as shared)`;
    }
  }
  return undefined;
}

/**
 * XAPI's rule: a network with PIFs is on the hosts of its PIFs. One without is on every host when it
 * is unmanaged or marked `assume_network_is_shared`; else (`internal`) only where its running VMs are
 * (anywhere when none runs): a host-internal network does not span hosts. `except`: a VM not to
 * count (one about to restart).
 */
export function hostsOfNetwork(ctx: PlanContext, net: NetworkRecord, except?: Ref): { hosts: Set<Ref> | 'all'; internal: boolean } {
  if (net.PIFs.length > 0) {
    const hosts = new Set<Ref>();
    for (const p of net.PIFs) {
      const host = ctx.index.get('PIF', p)?.host;
      if (host) hosts.add(host);
    }
    return { hosts, internal: false };
  }
  if (net.other_config?.[ASSUME_SHARED] === 'true' || net['managed'] === false) return { hosts: 'all', internal: false };
  const hosts = new Set<Ref>();
  for (const vifRef of net.VIFs ?? []) {
    const vmRef = ctx.index.get('VIF', vifRef)?.VM ?? '';
    const vm = vmRef === except ? undefined : ctx.index.get('VM', vmRef);
    if (vm?.power_state === 'Running') hosts.add(vm.resident_on);
  }
  return { hosts: hosts.size === 0 ? 'all' : hosts, internal: true };
}

function networkOnHost(ctx: PlanContext, net: NetworkRecord, hostRef: Ref): boolean {
  const { hosts } = hostsOfNetwork(ctx, net);
  return hosts === 'all' || hosts.has(hostRef);
}
