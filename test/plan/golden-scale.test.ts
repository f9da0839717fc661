/**
 * A whole plan, byte for byte, over a pool with many VMs in every situation the planner tells apart,
 * loaded from real YAML through the manifest loader. The golden file was written by the planner
 * before it was optimised for 10k VMs: any difference (an action, an order, a digest in
 * `observed.objects`) means a saved plan or a stale check would behave differently. (Its digests
 * were regenerated once, when the per-object digest went from sha256 to the fast digest of
 * src/plan/fast-digest.ts: only `object` lines changed then.) Run
 * `npx vitest run test/plan/golden-scale.test.ts -u` only when a change to the plan is intended.
 */
import { describe, expect, it } from 'vitest';
import type { DesiredState, DesiredVM } from '../../src/model/desired.js';
import type { Plan } from '../../src/model/plan.js';
import { loadManifestFiles } from '../../src/manifests/loader.js';
import { planChanges, specDigest, staleObjects } from '../../src/plan/index.js';
import { GiB, addNfsSR, addVM, addVlanNetwork, basePool, type Base } from './world.js';

const VMS = 112;
const now = new Date('2025-01-01T00:00:00Z');
const name = (i: number) => `vm-${String(i).padStart(3, '0')}`;

/** What VM i's manifest asks of the pool, by i % 14: each kind of difference the planner distinguishes. */
const SITUATIONS = [
  'unchanged', 'memory-live', 'memory-reboot', 'vcpus-reboot', 'halt', 'new-disk', 'grow-disk',
  'shrink-disk', 'move-vif', 'create', 'tags-and-config', 'new-template', 'unmanaged-twin', 'drift',
] as const;
const situation = (i: number) => SITUATIONS[i % SITUATIONS.length]!;

function vmYaml(i: number): string {
  const s = situation(i);
  const memory = s === 'memory-live' ? '3GiB' : s === 'memory-reboot' ? '8GiB' : '2GiB';
  const disks = [`    - {name: root, size: ${s === 'grow-disk' ? 20 : s === 'shrink-disk' ? 5 : 10}GiB, sr: fast}`];
  if (s === 'new-disk') disks.push('    - {name: data, size: 50GiB}');
  const extra = s === 'tags-and-config' ? '  tags: [web, prod]\n  otherConfig: {team: shop}\n' : '';
  return [
    '---', 'apiVersion: xops/v1', 'kind: VM',
    `metadata: {name: ${name(i)}, labels: {tier: ${i % 2 ? 'web' : 'db'}}}`,
    'spec:',
    `  template: ${s === 'new-template' ? 'Rocky Linux 9' : 'Debian Bookworm 12'}`,
    `  vcpus: ${s === 'vcpus-reboot' ? 4 : 2}`, `  vcpusMax: ${s === 'vcpus-reboot' ? 4 : 2}`,
    `  memory: ${memory}`, `  memoryMax: ${s === 'memory-live' ? '4GiB' : memory}`,
    '  disks:', ...disks,
    '  networks:', `    - network: ${s === 'move-vif' ? 'Pool-wide network associated with eth0' : 'lan'}`,
    `  powerState: ${s === 'halt' ? 'halted' : 'running'}`,
    extra,
  ].join('\n');
}

const OTHER_MANIFESTS = `
apiVersion: xops/v1
kind: Network
metadata: {name: lan}
spec: {vlan: {tag: 10, device: eth0}}
---
apiVersion: xops/v1
kind: Network
metadata: {name: backup-net}
spec: {vlan: {tag: 30, device: eth0}, tags: [backup]}
---
apiVersion: xops/v1
kind: SR
metadata: {name: fast}
spec: {type: nfs, shared: true, deviceConfig: {server: nas, serverpath: /fast}}
---
apiVersion: xops/v1
kind: Policy
metadata: {name: automation}
spec: {automation: {prune: true}}
`;

function loadDesired(): DesiredState {
  const vmFiles = Array.from({ length: Math.ceil(VMS / 50) }, (_, f) => ({
    path: `vms/batch-${f}.yaml`,
    content: Buffer.from(Array.from({ length: Math.min(50, VMS - f * 50) }, (_, k) => vmYaml(f * 50 + k)).join('\n')),
  }));
  const { desired, diagnostics } = loadManifestFiles([{ path: 'infra.yaml', content: Buffer.from(OTHER_MANIFESTS) }, ...vmFiles], '.');
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return desired;
}

/** The pool as apply would have left it for the manifests before their latest edit, plus strays. */
function observedPool(desired: DesiredState): Base {
  const b = basePool();
  const lan = addVlanNetwork(b, 'lan', 10);
  addVlanNetwork(b, 'old-net', 20);
  const fast = addNfsSR(b, 'fast', { server: 'nas', serverpath: '/fast' });
  const manifests = new Map(desired.vms.map((v) => [v.meta.name, v] as [string, DesiredVM]));
  for (let i = 0; i < VMS; i++) {
    const s = situation(i);
    if (s === 'create') continue;
    addVM(b, {
      name: name(i),
      address: s === 'unmanaged-twin' ? null : undefined,
      power: i % 3 === 2 ? 'Halted' : 'Running',
      memory: 2 * GiB, vcpus: 2,
      disks: [{ name: 'root', size: 10 * GiB, sr: fast }],
      vifs: [{ network: lan }],
      // Drift: the pool carries the digest of the manifest as it is, yet differs from it.
      spec: s === 'drift' ? specDigest(manifests.get(name(i))!) : undefined,
      memoryMax: s === 'drift' ? 2 * GiB : undefined,
      tags: s === 'tags-and-config' ? ['web'] : [],
      ...(s === 'drift' ? { vcpus: 1, vcpusMax: 2 } : {}),
    });
  }
  for (let k = 0; k < 5; k++) addVM(b, { name: `retired-${k}`, disks: [{ name: 'root', size: GiB, sr: fast }], vifs: [{ network: lan }] });
  return b;
}

/** The plan as text with one item per line, so that a difference reads as a short diff. */
function linesOf(plan: Plan): string {
  const { observed, actions, refused, diagnostics, ...head } = plan;
  return [
    JSON.stringify({ ...head, token: observed.token }),
    ...Object.entries(observed.objects).map(([key, digest]) => `object ${key} ${digest}`),
    ...actions.map((a) => `action ${JSON.stringify(a)}`),
    ...refused.map((r) => `refused ${JSON.stringify(r)}`),
    ...diagnostics.map((d) => `diagnostic ${JSON.stringify(d)}`),
    '',
  ].join('\n');
}

describe('a plan at scale is exactly the plan it always was', () => {
  it('matches the golden plan for 112 VMs in every situation, networks, an SR and prunes', async () => {
    const desired = loadDesired();
    const b = observedPool(desired);
    const plan = planChanges(desired, b.world.state, { now });
    // Sanity, so the golden cannot silently be a plan of nothing.
    const ops = new Set(plan.actions.map((a) => a.operation));
    expect([...ops].sort()).toEqual(['create', 'delete', 'power', 'replace', 'update']);
    expect(plan.refused.length).toBeGreaterThan(0);
    expect(plan.diagnostics.some((d) => d.code === 'conflict')).toBe(true);
    await expect(linesOf(plan)).toMatchFileSnapshot('./golden/plan-scale.txt');
    // The plan still holds against the pool it was made from.
    expect(staleObjects(plan.observed, b.world.state)).toEqual([]);
  });
});

describe('a saved plan over many VMs goes stale exactly when what it read changes', () => {
  const cases: { why: string; change: (b: Base) => void; stale: RegExp | null }[] = [
    {
      why: 'a compared field of a disk (not the VM) changed: the resize decision no longer holds',
      change: (b) => {
        const [ref, vdi] = [...b.world.state.records.VDI].find(([, r]) => r.name_label === `${name(0)}-root`)!;
        b.world.set('VDI', ref, { virtual_size: vdi.virtual_size + GiB });
      },
      stale: /^VDI 'vm-000-root' \(.+\) changed$/,
    },
    {
      why: 'an unmanaged VM appeared under the name of a VM the plan creates',
      change: (b) => { addVM(b, { name: name(9), address: null }); },
      stale: /^the VM objects with name_label 'vm-009' changed \(now 1\)$/,
    },
    {
      why: 'a second object carries the mark of a managed VM: ownership is ambiguous now',
      change: (b) => { addVM(b, { name: 'copy', address: `VM/${name(1)}` }); },
      stale: /^the VM objects with xops\.managed 'VM\/vm-001' changed \(now 2\)$/,
    },
    {
      why: 'a VIF the plan relied on is gone',
      change: (b) => {
        const [ref] = [...b.world.state.records.VIF].find(([, r]) => r.VM === [...b.world.state.records.VM].find(([, v]) => v.name_label === name(2))![0])!;
        b.world.state.records.VIF.delete(ref);
      },
      stale: /^VIF .+ is gone$/,
    },
    {
      why: 'a field the planner never compares (physical utilisation) changed: not stale',
      change: (b) => {
        const [ref] = [...b.world.state.records.VDI].find(([, r]) => r.name_label === `${name(3)}-root`)!;
        b.world.set('VDI', ref, { physical_utilisation: 42 });
      },
      stale: null,
    },
  ];
  it.each(cases)('$why', ({ change, stale }) => {
    const desired = loadDesired();
    const b = observedPool(desired);
    const plan = planChanges(desired, b.world.state, { now });
    change(b);
    const lines = staleObjects({ ...plan.observed, token: 'token-2' }, { ...b.world.state, token: 'token-2b' });
    if (stale === null) expect(lines).toEqual([]);
    else expect(lines).toEqual([expect.stringMatching(stale)]);
  });
});
