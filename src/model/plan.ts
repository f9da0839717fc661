import type { Diagnostic } from './diagnostics.js';
import type { Disruption, ResourceKind } from './kinds.js';
import type { ObservedClass, Ref } from './observed.js';

/**
 * A Plan is plain, serialisable data (see `schemas/plan.schema.json`): apply needs nothing but the
 * plan (and secrets, resolved at apply time). Produced by the pure planner in `src/plan/`, marked by
 * automation policies in `src/policy/`, executed by `src/apply/`.
 */
export interface Plan {
  formatVersion: 1;
  createdAt: string;
  source: { commit?: string; path: string };
  /** Identity of the observed snapshot the plan was made against, to refuse a stale saved plan. */
  observed: ObservedIdentity;
  /** Ordered: an action comes after every action it depends on. */
  actions: Action[];
  /** Changes the planner will not make at all (e.g. shrinking a disk), with why. */
  refused: Refusal[];
  /** Diagnostics found while planning (conflicts with unmanaged objects, admission warnings...). */
  diagnostics: Diagnostic[];
  /**
   * What the declared VMs' guest agents report (VM_guest_metrics.networks) as the plan was made, by
   * address; only VMs whose running guest reports an address. Information, not part of what apply does.
   */
  guests?: Record<string, { addresses: string[] }>;
}

export interface ObservedIdentity {
  /** event.from token of the snapshot. */
  token: string;
  /**
   * Digest of every pool object the plan read to decide its actions (`<class>/<uuid>` → digest of the
   * compared fields). A saved plan is stale when any of these changed, or appeared/disappeared.
   */
  objects: Record<string, string>;
}

/** The closed set of things an action does. */
export const OPERATIONS = ['create', 'update', 'replace', 'delete', 'power', 'migrate', 'adopt'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** One field-level difference. `path` is the manifest path (`spec.memory`, `spec.disks[data].size`). */
export interface FieldChange {
  path: string;
  from: unknown;
  to: unknown;
  disruption: Disruption;
  /** One line on why this change costs what it costs, e.g. "memory above static_max needs the VM halted". */
  reason?: string;
}

/** A pool object an action reads or changes. */
export interface ObjectRef {
  cls: ObservedClass;
  ref: Ref;
  uuid: string;
}

/** Whether automation policies let the action run in this reconcile. */
export type ActionGate =
  | { state: 'allowed' }
  | {
      state: 'held';
      policy: string;
      reason: string;
      /**
       * Held by a maintenance window (or waiting on an action that is): when the next window that
       * would let it run opens, ISO 8601. The controller reconciles again at that instant.
       */
      releasesAt?: string;
    };

export interface Action {
  /** Stable within a plan: `<operation>:<Kind/name>[:<detail>]`. */
  id: string;
  address: string;
  kind: ResourceKind;
  name: string;
  operation: Operation;
  /** The worst disruption among the changes; what policies gate on. */
  disruption: Disruption;
  /** One line for humans: why this action, and why this disruption. */
  reason: string;
  changes: FieldChange[];
  /** Ids of actions that must finish first. Actions with no path between them may run concurrently. */
  dependsOn: string[];
  /** Existing pool objects involved (empty for a pure create). */
  objects: ObjectRef[];
  /**
   * What apply needs to carry the action out: the resolved desired spec for create/update/replace,
   * and kind-specific details (e.g. which VDI to resize). Secrets stay as secretRef here.
   */
  desired?: unknown;
  details?: Record<string, unknown>;
  gate: ActionGate;
  /** Set by `xops diff`: true when the change between base and head introduces this action. */
  introduced?: boolean;
  /**
   * True when the manifest did not change since xops last applied it but the pool did (someone
   * changed the object behind xops' back); false for changes that come from the manifests.
   * Known from `other_config["xops.spec"]`, the digest of the spec xops last applied to the object.
   */
  drift?: boolean;
  /** Set by automation: snapshot the VM before this action (snapshotBefore policy). */
  snapshotBefore?: boolean;
  /** Set with snapshotBefore when a Policy sets `snapshotRetain`: pre-change snapshots of the VM kept after this one. */
  snapshotRetain?: number;
  /** Set by automation when a Policy's `rollout` governs this action: which batch it runs in. */
  rollout?: RolloutStep;
}

/**
 * An action's place in a rolling change. Apply starts batch `batch` of a policy's rollout only once
 * every action of batch `batch - 1` succeeded and its VM stayed healthy for `healthyAfter` seconds; a
 * failure holds every later batch of the same rollout.
 */
export interface RolloutStep {
  /** The Policy whose `rollout` this is; its actions form one rollout. */
  policy: string;
  /** 1-based. */
  batch: number;
  batches: number;
  /** VMs per batch, resolved from the Policy's count or percentage. */
  maxUnavailable: number;
  /** Seconds a rebooted VM must stay healthy before the next batch starts. */
  healthyAfter: number;
}

export interface Refusal {
  address: string;
  path: string;
  reason: string;
  from?: unknown;
  to?: unknown;
}
