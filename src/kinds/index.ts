/**
 * The registry: every kind xops knows, in pipeline order (what other kinds depend on comes first;
 * prune runs in the reverse order). The only module besides the simulator that names the kinds;
 * the loader, schema writer, planner, apply and export iterate this list.
 */
import { ALL_KINDS, type Kind } from '../model/kinds.js';
import type { KindContract } from './contract.js';
import { diskKind } from './disk/index.js';
import { hostKind } from './host/index.js';
import { networkKind } from './network/index.js';
import { policyKind } from './policy/index.js';
import { poolKind } from './pool/index.js';
import { srKind } from './sr/index.js';
import { vmKind } from './vm/index.js';
import { vmApplianceKind } from './vmappliance/index.js';
import { snapshotScheduleKind } from './snapshotschedule/index.js';
import { vmGroupKind } from './vmgroup/index.js';

export type { KindContract } from './contract.js';
export { addDocument, documentsOf } from './contract.js';

/** Every kind, in pipeline order. Must list the kinds in the order of model/kinds.ts ALL_KINDS. */
export const KIND_REGISTRY: readonly KindContract[] = [poolKind, hostKind, networkKind, srKind, diskKind, vmKind, vmApplianceKind, snapshotScheduleKind, vmGroupKind, policyKind];

if (KIND_REGISTRY.map((k) => k.kind).join() !== ALL_KINDS.join()) {
  throw new Error(`kind registry out of order: ${KIND_REGISTRY.map((k) => k.kind).join()} is not ${ALL_KINDS.join()}`);
}

/** The registry by kind name. */
export const KINDS: Readonly<Record<Kind, KindContract>> = Object.fromEntries(KIND_REGISTRY.map((k) => [k.kind, k])) as Record<Kind, KindContract>;

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && Object.hasOwn(KINDS, value);
}
