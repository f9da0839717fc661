import type { Kind } from '../../model/kinds.js';
import { hostKind } from './host.js';
import { networkKind } from './network.js';
import { policyKind } from './policy.js';
import { poolKind } from './pool.js';
import { srKind } from './sr.js';
import { vmKind } from './vm.js';
import { vmApplianceKind } from './vmappliance.js';
import type { KindDefinition } from './types.js';

/** Every manifest kind's definition, by kind. */
export const KINDS: Record<Kind, KindDefinition> = {
  Pool: poolKind,
  Host: hostKind,
  Network: networkKind,
  SR: srKind,
  VM: vmKind,
  VMAppliance: vmApplianceKind,
  Policy: policyKind,
};

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && Object.hasOwn(KINDS, value);
}
