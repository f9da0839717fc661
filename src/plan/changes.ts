import type { Disruption } from '../model/kinds.js';
import { maxDisruption } from '../model/kinds.js';
import type { DesiredResource } from '../model/desired.js';
import type { ObservedClass, Ref } from '../model/observed.js';
import type { FieldChange, ObjectRef, Operation } from '../model/plan.js';
import type { DraftAction, PlanContext } from './context.js';
import { addressOfResource, isDeclared } from './context.js';
import { sameSet, sameValue } from './values.js';

/** Adds a change when `from` and `to` differ. */
export function compareField(
  changes: FieldChange[],
  path: string,
  from: unknown,
  to: unknown,
  disruption: Disruption = 'none',
  reason?: string,
): boolean {
  if (sameValue(from, to)) return false;
  changes.push(reason ? { path, from, to, disruption, reason } : { path, from, to, disruption });
  return true;
}

/** Tags compare as sets, and only when the manifest declares them. */
export function compareTags(
  ctx: PlanContext,
  resource: DesiredResource,
  changes: FieldChange[],
  observed: readonly string[] | undefined,
  desired: readonly string[] | undefined,
): void {
  if (!desired || !isDeclared(ctx, resource, 'spec.tags', desired)) return;
  const from = [...(observed ?? [])].sort();
  if (!sameSet(from, desired)) changes.push({ path: 'spec.tags', from, to: [...desired].sort(), disruption: 'none' });
}

/**
 * Only the other_config keys the manifest declares are compared: XAPI, guests and other tools keep
 * their own keys there, and those are never drift.
 */
export function compareOtherConfig(
  changes: FieldChange[],
  observed: Record<string, string> | undefined,
  desired: Record<string, string> | undefined,
): void {
  for (const [key, value] of Object.entries(desired ?? {})) {
    compareField(changes, `spec.otherConfig.${key}`, observed?.[key], value);
  }
}

const isReference = (v: object) => 'target' in v && 'name' in v;

/**
 * A create's changes: every declared leaf of the spec, from nothing to its value. References show
 * as the name they refer to; lists of objects are entered by item (`spec.disks[root].size`, by name
 * where items have one, else `spec.networks[0].network`); lists of plain values stay whole.
 */
export function createChanges(spec: object, prefix = 'spec'): FieldChange[] {
  const out: FieldChange[] = [];
  const walk = (value: unknown, path: string) => {
    if (value === undefined) return;
    if (Array.isArray(value) && value.length > 0 && value.every((v) => v && typeof v === 'object' && !isReference(v))) {
      value.forEach((item: Record<string, unknown>, i) => {
        const key = typeof item['name'] === 'string' ? item['name'] : String(i);
        for (const [k, v] of Object.entries(item)) if (k !== 'name') walk(v, `${path}[${key}].${k}`);
      });
      return;
    }
    if (value && typeof value === 'object' && !Array.isArray(value) && !('secretRef' in value)) {
      if (isReference(value)) {
        out.push({ path, from: undefined, to: (value as { name: string }).name, disruption: 'none' });
        return;
      }
      for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
      return;
    }
    out.push({ path, from: undefined, to: value, disruption: 'none' });
  };
  walk(spec, prefix);
  return out;
}

export function objectRef(cls: ObservedClass, ref: Ref, uuid: string): ObjectRef {
  return { cls, ref, uuid };
}

/** What a kind planner gives to make one action. */
export interface ActionInput {
  operation: Operation;
  resource: DesiredResource | { kind: DesiredResource['kind']; meta: { name: string } };
  /** Distinguishes several actions of one operation on one resource, e.g. `disk/data`. */
  detail?: string;
  reason: string;
  changes?: FieldChange[];
  objects?: ObjectRef[];
  /** At least this disruption, whatever the changes say (e.g. deletes, which have no changes). */
  disruption?: Disruption;
  desired?: unknown;
  details?: Record<string, unknown>;
  drift?: boolean;
  needs?: string[];
}

/** Builds an action: its id, address and disruption (the worst of its changes). */
export function makeAction(input: ActionInput): DraftAction {
  const address = addressOfResource(input.resource as DesiredResource);
  const changes = input.changes ?? [];
  const disruption = changes.reduce<Disruption>((d, c) => maxDisruption(d, c.disruption), input.disruption ?? 'none');
  const action: DraftAction = {
    id: `${input.operation}:${address}${input.detail ? `:${input.detail}` : ''}`,
    address,
    kind: input.resource.kind,
    name: input.resource.meta.name,
    operation: input.operation,
    disruption,
    reason: input.reason,
    changes,
    dependsOn: [],
    objects: input.objects ?? [],
    gate: { state: 'allowed' },
  };
  if (input.desired !== undefined) action.desired = input.desired;
  if (input.details) action.details = input.details;
  if (input.drift !== undefined) action.drift = input.drift;
  if (input.needs?.length) action.needs = [...new Set(input.needs)];
  return action;
}

/** The reason of an update: the reason of its most disruptive change, or a generic one. */
export function updateReason(changes: FieldChange[], fallback: string): string {
  let worst: FieldChange | undefined;
  for (const c of changes) if (c.reason && (!worst || maxDisruption(worst.disruption, c.disruption) !== worst.disruption)) worst = c;
  return worst?.reason ?? fallback;
}
