import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/executor.js';
import { REPO, applyFolder, failures, planFolder, simWithClient } from './helpers.js';

const POLICY = `apiVersion: xops/v1
kind: Policy
metadata: {name: ops}
spec:
  admission: []
  automation: {prune: true, approval: []}
`;
const base = (o: { vmMemory?: string; disks?: string; netDesc?: string; order?: number } = {}) => `apiVersion: xops/v1
kind: Network
metadata: {name: lan}
spec:
  nameLabel: lan
  description: ${o.netDesc ?? 'first'}
  vlan: {tag: 42, device: eth1}
---
apiVersion: xops/v1
kind: SR
metadata: {name: store}
spec:
  type: nfs
  shared: true
  deviceConfig: {server: 10.0.0.1, serverpath: /x}
---
apiVersion: xops/v1
kind: VM
metadata: {name: vm1}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  vcpusMax: 4
  memory: ${o.vmMemory ?? '1GiB'}
  memoryMax: 4GiB
  disks:
${o.disks ?? '    - {name: root, size: 5GiB, sr: store}'}
  networks:
    - network: lan
  powerState: running
---
apiVersion: xops/v1
kind: VMAppliance
metadata: {name: app}
spec:
  members:
    - {vm: vm1, startOrder: ${o.order ?? 1}}
`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xops-apply-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe('each kind through the simulator: create, update, delete', () => {
  it('creates, then updates in place, then removes a disk and finally prunes everything it made', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const vmCount = () => [...sim.db.all('VM')].filter((o) => !o.rec.is_a_template && !o.rec.is_control_domain).length;
    const seedVMs = vmCount();

    const v1 = await folder({ 'all.yaml': base(), 'policy.yaml': POLICY });
    expect(failures((await applyFolder(client, v1)).result)).toEqual([]);
    expect((await planFolder(client, v1)).plan.actions).toEqual([]);
    expect(vmCount()).toBe(seedVMs + 1);

    // Why: every update path at once — live memory, a new disk, a network setter, appliance order.
    const v2 = await folder({
      'all.yaml': base({ vmMemory: '2GiB', netDesc: 'second', order: 3, disks: '    - {name: root, size: 5GiB, sr: store}\n    - {name: data, size: 2GiB, sr: store}' }),
      'policy.yaml': POLICY,
    });
    const up = await applyFolder(client, v2);
    expect(up.plan.actions.map((a) => a.operation).sort()).toEqual(['update', 'update', 'update']);
    expect(failures(up.result)).toEqual([]);
    expect((await planFolder(client, v2)).plan.actions).toEqual([]);
    const vm = [...sim.db.all('VM')].find((o) => o.rec.name_label === 'vm1')!;
    expect(vm.rec.power_state).toBe('Running');
    expect(Number(vm.rec.memory_dynamic_max)).toBe(2 * 1024 ** 3);

    // Why: dropping a declared disk is a separate destructive delete of exactly that VDI.
    const del = await applyFolder(client, v1);
    expect(del.plan.actions.map((a) => a.id)).toContain('delete:VM/vm1:disk/data');
    expect(failures(del.result)).toEqual([]);
    expect([...sim.db.all('VDI')].filter((o) => o.rec.name_label === 'vm1-data')).toEqual([]);

    // Why: prune removes what xops made (VM and its disks, appliance, SR, network), nothing else.
    const empty = await folder({ 'policy.yaml': POLICY });
    const pruned = await applyFolder(client, empty);
    expect(failures(pruned.result)).toEqual([]);
    expect(vmCount()).toBe(seedVMs);
    const marked = ['VM', 'VDI', 'network', 'SR', 'VM_appliance'].flatMap((c) => [...sim.db.all(c)].filter((o) => (o.rec.other_config as Record<string, string> | undefined)?.['xops.managed']));
    expect(marked.map((o) => o.rec.name_label)).toEqual([]);
    expect((await planFolder(client, empty)).plan.actions).toEqual([]);
  }, 60_000);

  it('refuses to change an object whose ownership mark disappeared after the plan was made', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const v1 = await folder({ 'all.yaml': base(), 'policy.yaml': POLICY });
    await applyFolder(env.client, v1);
    const v2 = await folder({ 'all.yaml': base({ netDesc: 'changed' }), 'policy.yaml': POLICY });
    const { plan } = await planFolder(env.client, v2);
    const net = plan.actions.find((a) => a.id === 'update:Network/lan')!;
    await env.client.call('network.remove_from_other_config', net.objects[0]!.ref, 'xops.managed');
    const result = await applyPlan(plan, env.client, { repo: REPO, retryDelayMs: 1 });
    const r = result.results.find((x) => x.action.id === 'update:Network/lan')!;
    expect(r.state).toBe('failed');
    expect(r.reason).toContain('not marked by xops');
    expect(r.attempts).toBe(1);
    expect(env.sim.db.record(net.objects[0]!.ref).name_description).toBe('first');
  }, 60_000);

  it('finishes a clone an interrupted apply left under the pending name instead of cloning again', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const v1 = await folder({ 'all.yaml': base(), 'policy.yaml': POLICY });
    const [tpl] = await env.client.call<string[]>('VM.get_by_name_label', 'Debian Bookworm 12');
    await env.client.callAsync('VM.clone', tpl, 'xops-pending:VM/vm1');
    expect(failures((await applyFolder(env.client, v1)).result)).toEqual([]);
    const vms = [...env.sim.db.all('VM')].filter((o) => ['vm1', 'xops-pending:VM/vm1'].includes(o.rec.name_label as string));
    expect(vms.map((o) => o.rec.name_label)).toEqual(['vm1']);
  }, 60_000);
});
