import type { DesiredNetwork } from '../../model/desired.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { networkProtection } from './protection.js';
import { applyNetwork } from './apply.js';
import { networkExporter } from './export.js';
import { planNetwork, pruneNetworks, vmsOnNetwork } from './plan.js';
import { networkSchema } from './schema.js';

/** A network, with its VLAN or bond carrier. */
export const networkKind = defineKind<DesiredNetwork>({
  ...networkSchema,
  word: 'network',
  classes: ['network', 'PIF', 'Bond'],
  protection: networkProtection,
  desired: 'networks',
  owner: { cls: 'network', nameLabel: (n) => n.spec.nameLabel },
  plan: planNetwork,
  prune: pruneNetworks,
  usersOf: vmsOnNetwork,
  apply: applyNetwork,
  export: networkExporter as KindExporter,
});
