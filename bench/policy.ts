/**
 * Policy figures at fleet scale: admission over many manifests and rules, automation over a large plan
 * with windows, budgets, approvals and dependencies. Pure code, so the figures are CPU only.
 */
import type { AdmissionRule, DesiredPolicy, DesiredState, RawDocument } from '../src/model/desired.js';
import type { Action, Plan } from '../src/model/plan.js';
import { checkAdmission } from '../src/policy/admission.js';
import { applyAutomation } from '../src/policy/automation.js';

const VMS = 5000;
const POLICIES = 10;

function doc(i: number): RawDocument {
  const name = `vm-${String(i).padStart(5, '0')}`;
  const labels = { env: i % 3 === 0 ? 'prod' : 'staging', team: `t${i % 7}` };
  return {
    kind: 'VM',
    name,
    address: `VM/${name}`,
    labels,
    body: {
      apiVersion: 'xops/v1',
      kind: 'VM',
      metadata: { name, labels },
      spec: { template: 'Debian Bookworm 12', vcpus: 2, memory: i % 50 === 0 ? '128GiB' : '4GiB', tags: i % 11 === 0 ? [] : ['owner:ops'] },
    },
    source: { file: `vms/${name}.yaml`, line: 1, col: 1 },
    locations: { spec: { file: `vms/${name}.yaml`, line: 5, col: 3 } },
  };
}

const rules: AdmissionRule[] = [
  {
    name: 'owner',
    match: { kinds: ['VM'], labels: { env: 'prod' } },
    require: { properties: { spec: { properties: { tags: { contains: { pattern: '^owner:' } } } } } },
    severity: 'deny',
    message: 'owner tag',
  },
  { name: 'mem', match: { kinds: ['VM'] }, require: { properties: { spec: { properties: { memory: { maxSize: '64GiB' } } } } }, severity: 'deny', message: 'memory' },
  { name: 'vcpus', match: { names: ['vm-0*'] }, require: { properties: { spec: { properties: { vcpus: { maximum: 32 } } } } }, severity: 'warn', message: 'vcpus' },
];

function policies(): DesiredPolicy[] {
  return Array.from({ length: POLICIES }, (_, i): DesiredPolicy => ({
    kind: 'Policy',
    meta: { name: `p${i}`, labels: {}, annotations: {}, source: { file: 'policies.yaml', line: i * 20 + 1, col: 1 } },
    spec: {
      match: i % 2 === 0 ? { labels: { team: `t${i % 7}` } } : { names: [`vm-${i}*`] },
      admission: i === 0 ? rules : [],
      automation: {
        maxDisruptive: 50 + i,
        approval: ['destructive'],
        snapshotBefore: ['reboot'],
        windows: [{ schedule: `0 ${i} * * *`, duration: 7200, allow: ['reboot', 'downtime'] }],
      },
    },
  }));
}

function state(): DesiredState {
  const documents = Array.from({ length: VMS }, (_, i) => doc(i));
  return { source: { path: '.' }, hosts: [], networks: [], srs: [], disks: [], vms: [], appliances: [], snapshotSchedules: [], vmGroups: [], policies: policies(), documents };
}

function bigPlan(): Plan {
  const actions: Action[] = [];
  for (let i = 0; i < VMS; i++) {
    const name = `vm-${String(i).padStart(5, '0')}`;
    const disruption = (['none', 'reboot', 'downtime', 'destructive'] as const)[i % 4];
    actions.push({
      id: `update:VM/${name}`,
      address: `VM/${name}`,
      kind: 'VM',
      name,
      operation: 'update',
      disruption,
      reason: 'bench',
      changes: [{ path: 'spec.memory', from: 1, to: 2, disruption }],
      dependsOn: i > 0 && i % 10 !== 0 ? [actions[i - 1].id] : [],
      objects: [],
      gate: { state: 'allowed' },
    });
  }
  return { formatVersion: 1, createdAt: '', source: { path: '.' }, observed: { token: '', objects: {} }, actions, refused: [], diagnostics: [] };
}

function time<T>(label: string, fn: () => T): T {
  const start = process.hrtime.bigint();
  const out = fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  process.stdout.write(`${label}: ${ms.toFixed(1)} ms\n`);
  return out;
}

export async function benchPolicy(): Promise<void> {
  const desired = state();
  const diags = time(`admission: ${VMS} manifests x ${rules.length} rules`, () => checkAdmission(desired));
  process.stdout.write(`  ${diags.length} diagnostics\n`);
  const plan = bigPlan();
  const now = new Date('2025-03-05T03:00:00Z');
  const out = time(`automation: ${VMS} actions, ${POLICIES} policies (windows, budgets, approval)`, () =>
    applyAutomation(plan, desired, { now }),
  );
  const held = out.actions.filter((a) => a.gate.state === 'held').length;
  process.stdout.write(`  ${held} held, ${VMS - held} allowed\n`);
}
