import { desiredResources, type ManifestMeta, type DesiredPolicy, type DesiredState, type DisruptionClass, type MaintenanceWindow } from '../model/desired.js';
import { matches, type MatchTarget } from './match.js';
import { addressOf } from '../model/address.js';

/** The name `gate.policy` and `decidedBy` carry when a built-in default, not a Policy, decided. */
export const DEFAULT_POLICY_NAME = '(default)';

/**
 * What applies when no matching Policy sets a field. Conservative on purpose: xops deletes nothing
 * (`prune`), takes over nothing (`adopt`) and loses no data without an approval unless a Policy says so;
 * drift is healed, because that is what a GitOps controller is for.
 */
export const AUTOMATION_DEFAULTS = {
  drift: 'heal',
  prune: false,
  adopt: false,
  approval: ['destructive'],
  snapshotBefore: [],
} as const satisfies {
  drift: 'heal' | 'report';
  prune: boolean;
  adopt: boolean;
  approval: readonly DisruptionClass[];
  snapshotBefore: readonly DisruptionClass[];
};

/** One Policy's maintenance windows; an action needs an open window from every group that applies to it. */
export interface WindowGroup {
  policy: string;
  windows: MaintenanceWindow[];
}

/** One Policy's disruption budget; every budget that applies to an action must have room for it. */
export interface DisruptionBudget {
  policy: string;
  maxDisruptive: number;
}

/**
 * The automation settings that govern one resource, combined over every Policy whose `spec.match`
 * selects it (document order). A field no matching Policy sets takes AUTOMATION_DEFAULTS; otherwise
 * the most restrictive value among the Policies that set it wins:
 * - `drift`: `report` if any says report;
 * - `prune`, `adopt`: true only if every Policy that sets it says true;
 * - `approval`, `snapshotBefore`: the union of the lists (an explicit `[]` replaces the default);
 * - `maxDisruptive`: the smallest, though each Policy keeps its own budget (`budgets`);
 * - `windows`: one group per Policy that declares windows; an action needs an open window from each.
 * `decidedBy` names the Policy behind each value, for the reasons printed on held actions.
 */
export interface ResolvedAutomation {
  address: string;
  /** Names of the Policies that select this resource, whether or not they set automation. */
  policies: string[];
  drift: 'heal' | 'report';
  prune: boolean;
  adopt: boolean;
  approval: DisruptionClass[];
  snapshotBefore: DisruptionClass[];
  /** Pre-change snapshots kept per VM: the largest any matching Policy sets (the least data lost); absent: all. */
  snapshotRetain?: number;
  /** Smallest budget among the matching Policies; absent means unlimited. */
  maxDisruptive?: number;
  budgets: DisruptionBudget[];
  windows: WindowGroup[];
  decidedBy: {
    drift: string;
    prune: string;
    adopt: string;
    maxDisruptive?: string;
    approval: Partial<Record<DisruptionClass, string>>;
    snapshotBefore: Partial<Record<DisruptionClass, string>>;
  };
}

/** `Kind/name` split at the first slash. */
export function parseAddress(address: string): { kind: string; name: string } {
  const slash = address.indexOf('/');
  return slash < 0 ? { kind: address, name: '' } : { kind: address.slice(0, slash), name: address.slice(slash + 1) };
}

/** What a resource's manifest says about it that policies read: labels and annotations. */
export interface ResourceFacts {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The facts of declared resources by address (see resourceFacts). */
export interface ResourceFactsLookup {
  get(address: string): ResourceFacts | undefined;
  has(address: string): boolean;
}

const factsCache = new WeakMap<DesiredState, ResourceFactsLookup>();

/**
 * Labels and annotations of every declared resource by address; one lookup per DesiredState
 * object. Policies ask about the few addresses a plan changes, of a desired state made anew for
 * each plan (a pull request's, a commit's): the first few answers are looked for in the manifests
 * of that kind alone, and only past them is every resource indexed (10 ms at 10,000 VMs).
 */
export function resourceFacts(desired: DesiredState): ResourceFactsLookup {
  let facts = factsCache.get(desired);
  if (!facts) factsCache.set(desired, (facts = new LazyFacts(desired)));
  return facts;
}

/** Addresses answered by a search of their kind's manifests before every resource is indexed. */
const SEARCHED_ADDRESSES = 16;

class LazyFacts implements ResourceFactsLookup {
  private readonly desired: DesiredState;
  private readonly searched = new Map<string, ResourceFacts | undefined>();
  private all: Map<string, ResourceFacts> | undefined;

  constructor(desired: DesiredState) {
    this.desired = desired;
  }

  get(address: string): ResourceFacts | undefined {
    if (this.all) return this.all.get(address);
    if (this.searched.has(address)) return this.searched.get(address);
    if (this.searched.size >= SEARCHED_ADDRESSES) {
      this.all = everyResourceFacts(this.desired);
      return this.all.get(address);
    }
    const found = searchFacts(this.desired, address);
    this.searched.set(address, found);
    return found;
  }

  has(address: string): boolean {
    return this.get(address) !== undefined;
  }
}

/**
 * What everyResourceFacts would hold at `address`: the meta of the last typed resource with that
 * address (a later one replaces an earlier), else the first raw document's.
 */
function searchFacts(desired: DesiredState, address: string): ResourceFacts | undefined {
  const { kind, name } = parseAddress(address);
  let typed: ResourceFacts | undefined;
  for (const doc of typedResources(desired)) if (doc.kind === kind && doc.meta.name === name) typed = doc.meta;
  if (typed) return typed;
  for (const raw of desired.documents) if (raw.address === address) return { labels: raw.labels, annotations: annotationsOf(raw.body) };
  return undefined;
}

/** Every typed resource, Policies included, in the order a later one replaces an earlier one's facts. */
function typedResources(desired: DesiredState): readonly { kind: string; meta: ManifestMeta }[] {
  return [...desiredResources(desired), ...desired.policies];
}

function everyResourceFacts(desired: DesiredState): Map<string, ResourceFacts> {
  const facts = new Map<string, ResourceFacts>();
  const typed = typedResources(desired);
  // A resource's meta holds its labels and annotations: no object per resource is made for them.
  for (const doc of typed) facts.set(addressOf(doc), doc.meta);
  // Raw documents fill in what the typed form lacks (e.g. a kind whose typed form failed to load).
  for (const raw of desired.documents) {
    if (!facts.has(raw.address)) facts.set(raw.address, { labels: raw.labels, annotations: annotationsOf(raw.body) });
  }
  return facts;
}

function annotationsOf(body: unknown): Record<string, string> {
  const meta = (body as { metadata?: { annotations?: unknown } } | null)?.metadata;
  const annotations = meta?.annotations;
  if (!annotations || typeof annotations !== 'object') return {};
  return Object.fromEntries(
    Object.entries(annotations as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** The Policies whose `spec.match` selects `target`, in document order. */
export function policiesSelecting(desired: DesiredState, target: MatchTarget): DesiredPolicy[] {
  return desired.policies.filter((policy) => matches(policy.spec.match, target));
}

/**
 * The combined automation settings for the resource at `address` (see ResolvedAutomation for the
 * rules). Labels come from the resource's manifest; a resource with no manifest (a prune candidate)
 * has none unless the caller knows them (`labels`), so label-scoped Policies do not select it.
 */
export function effectiveSettings(
  desired: DesiredState,
  address: string,
  labels?: Readonly<Record<string, string>>,
  limits?: OperatorLimits,
): ResolvedAutomation {
  const { kind, name } = parseAddress(address);
  const target: MatchTarget = { kind, name, labels: labels ?? resourceFacts(desired).get(address)?.labels ?? {} };
  const selected = policiesSelecting(desired, target);

  const resolved: ResolvedAutomation = {
    address,
    policies: selected.map((p) => p.meta.name),
    drift: AUTOMATION_DEFAULTS.drift,
    prune: AUTOMATION_DEFAULTS.prune,
    adopt: AUTOMATION_DEFAULTS.adopt,
    approval: [],
    snapshotBefore: [],
    budgets: [],
    windows: [],
    decidedBy: {
      drift: DEFAULT_POLICY_NAME,
      prune: DEFAULT_POLICY_NAME,
      adopt: DEFAULT_POLICY_NAME,
      approval: {},
      snapshotBefore: {},
    },
  };
  let pruneSet = false;
  let adoptSet = false;
  let approvalSet = false;

  for (const policy of selected) {
    const auto = policy.spec.automation;
    if (!auto) continue;
    const by = policy.meta.name;
    if (auto.drift === 'report' && resolved.drift !== 'report') {
      resolved.drift = 'report';
      resolved.decidedBy.drift = by;
    } else if (auto.drift === 'heal' && resolved.drift === 'heal' && resolved.decidedBy.drift === DEFAULT_POLICY_NAME) {
      resolved.decidedBy.drift = by;
    }
    if (auto.prune !== undefined) {
      if (!pruneSet || (resolved.prune && !auto.prune)) {
        resolved.prune = auto.prune;
        resolved.decidedBy.prune = by;
      }
      pruneSet = true;
    }
    if (auto.adopt !== undefined) {
      if (!adoptSet || (resolved.adopt && !auto.adopt)) {
        resolved.adopt = auto.adopt;
        resolved.decidedBy.adopt = by;
      }
      adoptSet = true;
    }
    if (auto.approval !== undefined) {
      approvalSet = true;
      addClasses(resolved.approval, resolved.decidedBy.approval, auto.approval, by);
    }
    if (auto.snapshotBefore !== undefined) {
      addClasses(resolved.snapshotBefore, resolved.decidedBy.snapshotBefore, auto.snapshotBefore, by);
    }
    if (auto.snapshotRetain !== undefined && (resolved.snapshotRetain === undefined || auto.snapshotRetain > resolved.snapshotRetain)) {
      resolved.snapshotRetain = auto.snapshotRetain;
    }
    if (auto.maxDisruptive !== undefined) {
      resolved.budgets.push({ policy: by, maxDisruptive: auto.maxDisruptive });
      if (resolved.maxDisruptive === undefined || auto.maxDisruptive < resolved.maxDisruptive) {
        resolved.maxDisruptive = auto.maxDisruptive;
        resolved.decidedBy.maxDisruptive = by;
      }
    }
    if (auto.windows && auto.windows.length > 0) resolved.windows.push({ policy: by, windows: auto.windows });
  }
  if (!approvalSet) {
    addClasses(resolved.approval, resolved.decidedBy.approval, AUTOMATION_DEFAULTS.approval, DEFAULT_POLICY_NAME);
  }
  // The operator's limits are a ceiling no Policy can raise.
  if (limits && resolved.prune && !limits.prune) {
    resolved.prune = false;
    resolved.decidedBy.prune = OPERATOR_LIMITS;
  }
  if (limits && resolved.adopt && !limits.adopt) {
    resolved.adopt = false;
    resolved.decidedBy.adopt = OPERATOR_LIMITS;
  }
  return resolved;
}

/**
 * The operator's ceilings (`limits` of the operator's configuration, raised for one run by
 * `--allow-adopt`, `--allow-prune`, `--allow-destructive`): what no repository Policy can turn on.
 */
export interface OperatorLimits {
  adopt: boolean;
  prune: boolean;
  destructive: boolean;
}

/** Who decided, when the operator's limits override what a Policy asked for. */
export const OPERATOR_LIMITS = '(operator limits)';

function addClasses(
  into: DisruptionClass[],
  by: Partial<Record<DisruptionClass, string>>,
  classes: readonly DisruptionClass[],
  policy: string,
): void {
  for (const c of classes) {
    if (!into.includes(c)) {
      into.push(c);
      by[c] = policy;
    }
  }
}
