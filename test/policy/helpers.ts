// Small builders for policy tests: desired states, raw documents and plans made by hand, so these
// tests do not depend on the loader or the planner.
import type { SourceLocation } from '../../src/model/diagnostics.js';
import type { AutomationSettings, AdmissionRule, DesiredPolicy, DesiredState, Match, RawDocument } from '../../src/model/desired.js';
import type { Disruption, ResourceKind } from '../../src/model/kinds.js';
import type { Action, FieldChange, Operation, Plan } from '../../src/model/plan.js';

export function loc(file: string, line: number, col = 1): SourceLocation {
  return { file, line, col };
}

/** A manifest as the operator wrote it; `locations` maps JSON paths to where they are written. */
export function rawDoc(
  kind: string,
  name: string,
  opts: {
    spec?: unknown;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    locations?: Record<string, SourceLocation>;
    file?: string;
    line?: number;
  } = {},
): RawDocument {
  const metadata: Record<string, unknown> = { name };
  if (opts.labels) metadata.labels = opts.labels;
  if (opts.annotations) metadata.annotations = opts.annotations;
  return {
    kind,
    name,
    address: `${kind}/${name}`,
    labels: opts.labels ?? {},
    body: { apiVersion: 'xops/v1', kind, metadata, spec: opts.spec ?? {} },
    source: loc(opts.file ?? `${kind.toLowerCase()}s.yaml`, opts.line ?? 1),
    locations: opts.locations ?? {},
  };
}

export function policy(
  name: string,
  spec: { match?: Match; admission?: AdmissionRule[]; automation?: AutomationSettings },
  annotations: Record<string, string> = {},
): DesiredPolicy {
  return {
    kind: 'Policy',
    meta: { name, labels: {}, annotations, source: loc('policies.yaml', 1) },
    spec: { admission: [], ...spec },
  };
}

/** A desired state holding Policies and the raw documents of the resources they govern. */
export function desired(policies: DesiredPolicy[], documents: RawDocument[] = []): DesiredState {
  return {
    source: { path: '.' },
    hosts: [],
    networks: [],
    srs: [],
    disks: [],
    vms: [],
    appliances: [],
    snapshotSchedules: [],
    vmGroups: [],
    policies,
    documents: [
      ...documents,
      ...policies.map((p) => rawDoc('Policy', p.meta.name, { annotations: p.meta.annotations, file: 'policies.yaml' })),
    ],
  };
}

/** An action on `address`; the id is `<operation>:<address>` unless given. */
export function action(
  address: `${ResourceKind}/${string}`,
  opts: {
    operation?: Operation;
    disruption?: Disruption;
    id?: string;
    dependsOn?: string[];
    drift?: boolean;
    changes?: FieldChange[];
  } = {},
): Action {
  const [kind, name] = address.split('/') as [ResourceKind, string];
  const operation = opts.operation ?? 'update';
  const disruption = opts.disruption ?? 'none';
  const a: Action = {
    id: opts.id ?? `${operation}:${address}`,
    address,
    kind,
    name,
    operation,
    disruption,
    reason: 'test',
    changes: opts.changes ?? [{ path: 'spec.vcpus', from: 1, to: 2, disruption }],
    dependsOn: opts.dependsOn ?? [],
    objects: [],
    gate: { state: 'allowed' },
  };
  if (opts.drift !== undefined) a.drift = opts.drift;
  return a;
}

export function plan(actions: Action[]): Plan {
  return {
    formatVersion: 1,
    createdAt: '2025-03-05T12:00:00.000Z',
    source: { path: '.' },
    observed: { token: 't', objects: {} },
    actions,
    refused: [],
    diagnostics: [],
  };
}

/** `id → 'allowed' | reason` for compact assertions. */
export function gates(p: Plan): Record<string, string> {
  return Object.fromEntries(p.actions.map((a) => [a.id, a.gate.state === 'allowed' ? 'allowed' : a.gate.reason]));
}
