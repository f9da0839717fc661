import { describe, expect, it } from 'vitest';
import { planChanges, specDigest, staleObjects } from '../../src/plan/index.js';
import type { VMUpdateDetails } from '../../src/kinds/vm/plan.js';
import {
  GiB, addNfsSR, addVM, addVlanNetwork, appliance, basePool, desiredState, live, manifestRef, network, sr, vm,
} from './world.js';

const now = new Date('2025-01-01T00:00:00Z');
const byId = (plan: ReturnType<typeof planChanges>, id: string) => plan.actions.find((a) => a.id === id)!;

describe('dependencies: only real ones, so apply can run the rest concurrently', () => {
  it('links a VM to the network and SR it uses when they are created in the same plan, and nothing else', () => {
    const b = basePool();
    const plan = planChanges(desiredState({
      networks: [network('lan', { vlan: { tag: 20, device: 'eth1' } })],
      srs: [sr('fast', { deviceConfig: { server: 'nas' } })],
      vms: [
        vm('web01', { networks: [{ network: manifestRef('lan') }], disks: [{ name: 'root', size: GiB, sr: manifestRef('fast') }] }),
        vm('web02', { disks: [{ name: 'root', size: GiB }] }),
      ],
    }), b.world.state, { now });
    expect(byId(plan, 'create:VM/web01').dependsOn.sort()).toEqual(['create:Network/lan', 'create:SR/fast']);
    expect(byId(plan, 'create:VM/web02').dependsOn).toEqual([]);
    expect(byId(plan, 'create:Network/lan').dependsOn).toEqual([]);
  });

  it('chains the actions of one VM in the order apply must run them', () => {
    const b = basePool();
    addVM(b, { name: 'web01', power: 'Running', memory: GiB });
    const plan = planChanges(desiredState({ vms: [vm('web01', { memory: 2 * GiB, powerState: 'halted' })] }), b.world.state, { now });
    expect(plan.actions.map((a) => a.id)).toEqual(['power:VM/web01', 'update:VM/web01']);
    expect(byId(plan, 'update:VM/web01').dependsOn).toEqual(['power:VM/web01']);
  });

  it('deletes run after everything else, in reverse kind order, a network after the VM leaving it', () => {
    const b = basePool();
    const lan = addVlanNetwork(b, 'lan', 10);
    addNfsSR(b, 'old', { server: 'nas' });
    addVM(b, { name: 'gone', vifs: [{ network: lan }] });
    const plan = planChanges(desiredState({ vms: [vm('new01')] }), b.world.state, { now, prune: true });
    expect(plan.actions.map((a) => a.id)).toEqual(['create:VM/new01', 'delete:VM/gone', 'delete:SR/old', 'delete:Network/lan']);
    expect(byId(plan, 'delete:Network/lan').dependsOn).toEqual(['delete:VM/gone']);
    expect(byId(plan, 'delete:SR/old').dependsOn).toEqual([]);
  });
});

describe('what apply receives', () => {
  it('resolves references to uuids where the object exists, and to the manifest address where it is created', () => {
    const b = basePool();
    const plan = planChanges(desiredState({
      networks: [network('lan')],
      vms: [vm('web01', { networks: [{ network: manifestRef('lan') }, { network: live('Pool-wide network associated with eth0') }], disks: [{ name: 'root', size: GiB }] })],
    }), b.world.state, { now });
    const desired = byId(plan, 'create:VM/web01').desired as { networks: { network: { uuid?: string; address?: string } }[]; disks: { sr: { uuid?: string } }[]; template: { uuid?: string } };
    expect(desired.networks[0].network).toMatchObject({ address: 'Network/lan' });
    expect(desired.networks[0].network.uuid).toBeUndefined();
    expect(desired.networks[1].network.uuid).toBe(b.world.uuid('network', b.eth0));
    // An omitted disk SR is the pool's default SR.
    expect(desired.disks[0].sr.uuid).toBe(b.world.uuid('SR', b.nfs));
    expect(desired.template.uuid).toBe(b.world.uuid('VM', b.debian));
  });

  it('says which VDI to resize and how, and which VIF to move', () => {
    const b = basePool();
    const lan = addVlanNetwork(b, 'lan', 10);
    const ref = addVM(b, { name: 'web01', disks: [{ name: 'root', size: GiB, sr: b.local }], vifs: [{ network: b.eth0 }] });
    const plan = planChanges(desiredState({
      networks: [network('lan', { vlan: { tag: 10, device: 'eth0' } })],
      vms: [vm('web01', { disks: [{ name: 'root', size: 2 * GiB, sr: live('Local storage on xcp-host1') }], networks: [{ network: manifestRef('lan') }] })],
    }), b.world.state, { now });
    const details = byId(plan, 'update:VM/web01').details as unknown as VMUpdateDetails;
    const vdi = b.world.get('VBD', b.world.get('VM', ref).VBDs[0]).VDI;
    expect(details.disks.resize).toEqual([{ name: 'root', vdi: b.world.uuid('VDI', vdi), size: 2 * GiB, online: true }]);
    expect(details.vifs.move).toMatchObject([{ index: 0, vif: b.world.uuid('VIF', b.world.get('VM', ref).VIFs[0]), network: { uuid: b.world.uuid('network', lan) } }]);
    expect(details.restart).toBe(false);
  });

  it('is plain data: a JSON round trip gives the same plan', () => {
    const b = basePool();
    addVM(b, { name: 'web01', memory: GiB });
    const plan = planChanges(desiredState({ vms: [vm('web01', { memory: 2 * GiB }), vm('web02')] }), b.world.state, { now });
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(plan.createdAt).toBe('2025-01-01T00:00:00.000Z');
  });
});

describe('drift', () => {
  it('marks a change as drift when the object carries the digest of the current manifest', () => {
    const b = basePool();
    const manifest = vm('web01', { vcpus: 2, vcpusMax: 4 });
    addVM(b, { name: 'web01', vcpus: 3, vcpusMax: 4, spec: specDigest(manifest) });
    const plan = planChanges(desiredState({ vms: [manifest] }), b.world.state, { now });
    expect(byId(plan, 'update:VM/web01').drift).toBe(true);
  });

  it('a change that comes from an edited manifest is not drift', () => {
    const b = basePool();
    const before = vm('web01', { vcpus: 3, vcpusMax: 4 });
    addVM(b, { name: 'web01', vcpus: 3, vcpusMax: 4, spec: specDigest(before) });
    const plan = planChanges(desiredState({ vms: [vm('web01', { vcpus: 2, vcpusMax: 4 })] }), b.world.state, { now });
    expect(byId(plan, 'update:VM/web01').drift).toBe(false);
  });

  it('the spec digest ignores where the manifest was written', () => {
    const a = vm('web01');
    const moved = { ...a, meta: { ...a.meta, source: { file: 'elsewhere.yaml', line: 40, col: 1 } } };
    expect(specDigest(moved)).toBe(specDigest(a));
    expect(specDigest(vm('web01', { vcpus: 3 }))).not.toBe(specDigest(a));
  });
});

describe('stale saved plans', () => {
  const setup = () => {
    const b = basePool();
    const ref = addVM(b, { name: 'web01', vcpus: 2, vcpusMax: 4 });
    const plan = planChanges(desiredState({ vms: [vm('web01', { vcpus: 4, vcpusMax: 4 }), vm('web02')] }), b.world.state, { now });
    b.world.state.token = 'token-2';
    return { b, ref, plan };
  };

  it('holds when nothing the plan read changed, even if unrelated fields did', () => {
    const { b, ref, plan } = setup();
    b.world.set('VM', ref, { metrics: 'OpaqueRef:other', guest_metrics: 'OpaqueRef:x' });
    expect(staleObjects(plan.observed, b.world.state)).toEqual([]);
  });

  it('names the object that changed', () => {
    const { b, ref, plan } = setup();
    b.world.set('VM', ref, { VCPUs_at_startup: 3 });
    expect(staleObjects(plan.observed, b.world.state)).toEqual([`VM 'web01' (${b.world.uuid('VM', ref)}) changed`]);
  });

  it('notices an object that appeared under the name of a planned create', () => {
    const { b, plan } = setup();
    addVM(b, { name: 'web02', address: null });
    expect(staleObjects(plan.observed, b.world.state)).toEqual(["the VM objects with name_label 'web02' changed (now 1)"]);
  });

  it('holds when an ordinary VM shares a template\'s name: the lookup covers every object of that name', () => {
    const b = basePool();
    addVM(b, { name: 'Debian Bookworm 12', address: null });
    const plan = planChanges(desiredState({ vms: [vm('web03')] }), b.world.state, { now });
    expect(staleObjects(plan.observed, { ...b.world.state, token: 'token-2' })).toEqual([]);
  });

  it('notices an object that is gone', () => {
    const { b, ref, plan } = setup();
    b.world.state.records.VM.delete(ref);
    expect(staleObjects(plan.observed, b.world.state).some((m) => m.includes('is gone'))).toBe(true);
  });
});

describe('appliances', () => {
  it('changes membership and start order as metadata, and lets go of VMs no longer listed', () => {
    const b = basePool();
    const app = b.world.add('VM_appliance', { name_label: 'shop', name_description: '', VMs: [], allowed_operations: [] });
    b.world.set('pool', b.pool, { other_config: { [`xops.managed/VM_appliance/${b.world.uuid('VM_appliance', app)}`]: 'VMAppliance/shop' } });
    const db = addVM(b, { name: 'db' });
    const old = addVM(b, { name: 'old' });
    b.world.set('VM', db, { appliance: app, order: 0 });
    b.world.set('VM', old, { appliance: app });
    b.world.set('VM_appliance', app, { VMs: [db, old] });
    const plan = planChanges(desiredState({
      vms: [vm('db'), vm('old')],
      appliances: [appliance('shop', [{ vm: manifestRef('db'), startOrder: 2, startDelay: 0, shutdownDelay: 0 }])],
    }), b.world.state, { now });
    const update = byId(plan, 'update:VMAppliance/shop');
    expect(update.disruption).toBe('none');
    expect(update.changes.map((c) => c.path)).toEqual(['spec.members[db].startOrder', 'spec.members[old]']);
    expect(update.details).toMatchObject({ removeMembers: [b.world.uuid('VM', old)] });
  });

  it('an appliance no manifest declares is deleted with prune on, its VMs untouched', () => {
    const b = basePool();
    const app = b.world.add('VM_appliance', { name_label: 'shop', name_description: '', VMs: [], allowed_operations: [] });
    b.world.set('pool', b.pool, { other_config: { [`xops.managed/VM_appliance/${b.world.uuid('VM_appliance', app)}`]: 'VMAppliance/shop' } });
    const plan = planChanges(desiredState({}), b.world.state, { now, prune: true });
    expect(plan.actions.map((a) => `${a.id} ${a.disruption}`)).toEqual(['delete:VMAppliance/shop none']);
  });
});

describe('plan.schema.json', () => {
  it('accepts the plans the planner makes, through a JSON round trip', async () => {
    const { readFile } = await import('node:fs/promises');
    const { Ajv } = await import('ajv');
    const addFormats = (await import('ajv-formats')).default as unknown as (ajv: InstanceType<typeof Ajv>) => void;
    const schema = JSON.parse(await readFile(new URL('../../schemas/plan.schema.json', import.meta.url), 'utf8'));
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    const b = basePool();
    addVM(b, { name: 'web01', memory: GiB, disks: [{ name: 'root', size: 2 * GiB, sr: b.nfs }] });
    addNfsSR(b, 'old', { server: 'nas' });
    const plan = planChanges(desiredState({
      networks: [network('lan')],
      vms: [vm('web01', { memory: 2 * GiB, disks: [{ name: 'root', size: GiB }], networks: [{ network: manifestRef('lan') }] }), vm('bad', { template: live('nope') })],
    }), b.world.state, { now, prune: true });
    expect(plan.actions.length).toBeGreaterThan(2);
    expect(plan.refused.length + plan.diagnostics.length).toBeGreaterThan(1);
    const ok = validate(JSON.parse(JSON.stringify(plan)));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // And it rejects what is not a plan.
    expect(validate({ ...plan, actions: [{ ...plan.actions[0], disruption: 'mild' }] })).toBe(false);
  });
});
