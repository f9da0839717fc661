/**
 * Disks of a VM xops did not create carry no `xops.disk` mark. Besides their `<vm>-<disk>` name, the
 * planner matches them by position (declared disk i is the disk whose VBD has userdevice i), so an
 * exported VM's disks are recognised without renaming: adopting it plans no new disk, and the adopt
 * action tells apply which VDIs to mark.
 */
import { describe, expect, it } from 'vitest';
import type { Ref } from '../../src/model/observed.js';
import { planChanges } from '../../src/plan/index.js';
import { GiB, addVM, basePool, desiredState, live, policy, vm, type Base } from './world.js';
import { summarize } from './summary.js';

const disk = (name: string, size: number) => ({ name, size, sr: live('pool-nfs') });

/** The VM's VBDs in creation order, to give them the labels, userdevices and types of a hand-made VM. */
function vbdsOf(b: Base, vmRef: Ref): Ref[] {
  return b.world.get('VM', vmRef).VBDs;
}
function relabel(b: Base, vbd: Ref, label: string, userdevice?: string): void {
  const rec = b.world.get('VBD', vbd);
  b.world.set('VDI', rec.VDI, { name_label: label });
  if (userdevice !== undefined) b.world.set('VBD', vbd, { userdevice });
}
/** A CD drive with an ISO in it at this userdevice. */
function addCD(b: Base, vmRef: Ref, userdevice: string): void {
  const iso = b.world.add('VDI', { name_label: 'debian-12.iso', name_description: '', SR: b.nfs, VBDs: [], virtual_size: GiB / 2, other_config: {} });
  const cd = b.world.add('VBD', { VM: vmRef, VDI: iso, userdevice, type: 'CD', empty: false, bootable: false, mode: 'RO', currently_attached: true, other_config: {} });
  b.world.set('VDI', iso, { VBDs: [cd] });
  b.world.set('VM', vmRef, { VBDs: [...b.world.get('VM', vmRef).VBDs, cd] });
}
const uuidOfDisk = (b: Base, vbd: Ref) => b.world.get('VDI', b.world.get('VBD', vbd).VDI).uuid;

interface Case {
  why: string;
  /** Builds the pool; returns the manifests and the disk claims expected on the adopt action (by VBD). */
  given: (b: Base) => { disks: ReturnType<typeof disk>[]; managed?: boolean; claims: { name: string; vbd: Ref; match: string }[] };
  actions: string[];
  /** Disks the update adds (by name), when there is an update. */
  adds?: string[];
}

const cases: Case[] = [
  {
    why: 'a hand-made VM\'s disk named otherwise ("legacy root") is disk 0 by its userdevice: adopt only, nothing created',
    given: (b) => {
      const ref = addVM(b, { name: 'legacy', address: null, disks: [{ name: 'x', size: 20 * GiB, sr: b.nfs, owned: false }] });
      const [root] = vbdsOf(b, ref);
      relabel(b, root!, 'legacy root');
      return { disks: [disk('root', 20 * GiB)], claims: [{ name: 'root', vbd: root!, match: 'position' }] };
    },
    actions: ['adopt:VM/legacy none'],
  },
  {
    why: 'a CD drive is never a disk, even at the userdevice of a declared disk: that disk is new',
    given: (b) => {
      const ref = addVM(b, { name: 'legacy', address: null, disks: [{ name: 'x', size: 20 * GiB, sr: b.nfs, owned: false }] });
      const [root] = vbdsOf(b, ref);
      relabel(b, root!, 'legacy root');
      addCD(b, ref, '1');
      return { disks: [disk('root', 20 * GiB), disk('data', 5 * GiB)], claims: [{ name: 'root', vbd: root!, match: 'position' }] };
    },
    actions: ['adopt:VM/legacy none', 'update:VM/legacy none [spec.disks[data]]'],
    adds: ['data'],
  },
  {
    why: 'userdevices with a gap (0, 2): declared disk 1 has no disk at userdevice 1, so it is new; the disk at 2 is left alone',
    given: (b) => {
      const ref = addVM(b, { name: 'legacy', address: null, disks: [{ name: 'x', size: 20 * GiB, sr: b.nfs, owned: false }, { name: 'y', size: 8 * GiB, sr: b.nfs, owned: false }] });
      const [root, other] = vbdsOf(b, ref);
      relabel(b, root!, 'legacy root');
      relabel(b, other!, 'legacy scratch', '2');
      return { disks: [disk('root', 20 * GiB), disk('data', 8 * GiB)], claims: [{ name: 'root', vbd: root!, match: 'position' }] };
    },
    actions: ['adopt:VM/legacy none', 'update:VM/legacy none [spec.disks[data]]'],
    adds: ['data'],
  },
  {
    why: 'past a gap, a disk named `<vm>-<disk>` is still found by its name',
    given: (b) => {
      const ref = addVM(b, { name: 'legacy', address: null, disks: [{ name: 'x', size: 20 * GiB, sr: b.nfs, owned: false }, { name: 'y', size: 8 * GiB, sr: b.nfs, owned: false }] });
      const [root, data] = vbdsOf(b, ref);
      relabel(b, root!, 'legacy root');
      relabel(b, data!, 'legacy-data', '2');
      return { disks: [disk('root', 20 * GiB), disk('data', 8 * GiB)], claims: [{ name: 'root', vbd: root!, match: 'position' }, { name: 'data', vbd: data!, match: 'label' }] };
    },
    actions: ['adopt:VM/legacy none'],
  },
  {
    why: 'a disk carrying the mark `xops.disk` wins over the unmarked disk at its position',
    given: (b) => {
      const ref = addVM(b, { name: 'web', disks: [{ name: 'scratch', size: 4 * GiB, sr: b.nfs, owned: false }, { name: 'root', size: 20 * GiB, sr: b.nfs }] });
      const [scratch] = vbdsOf(b, ref);
      relabel(b, scratch!, 'web scratch');
      return { managed: true, disks: [disk('root', 20 * GiB)], claims: [] };
    },
    actions: [],
  },
  {
    why: 'a declared disk is matched by position only to an unmarked disk: the marked one at its userdevice is another disk, so it is new',
    given: (b) => {
      addVM(b, { name: 'web', disks: [{ name: 'root', size: 20 * GiB, sr: b.nfs }] });
      return { managed: true, disks: [disk('boot', 20 * GiB), disk('root', 20 * GiB)], claims: [] };
    },
    actions: ['update:VM/web none [spec.disks[boot]]'],
    adds: ['boot'],
  },
  {
    why: 'a disk matched by position is grown like any other, and the update claims it',
    given: (b) => {
      const ref = addVM(b, { name: 'legacy', address: null, disks: [{ name: 'x', size: 20 * GiB, sr: b.nfs, owned: false }] });
      const [root] = vbdsOf(b, ref);
      relabel(b, root!, 'legacy root');
      return { disks: [disk('root', 30 * GiB)], claims: [{ name: 'root', vbd: root!, match: 'position' }] };
    },
    // pool-nfs cannot resize online: the running VM is halted for it, as for any disk.
    actions: ['adopt:VM/legacy none', 'update:VM/legacy reboot [spec.disks[root].size]'],
    adds: [],
  },
];

describe('unmarked disks matched by position', () => {
  it.each(cases)('$why', ({ given, actions, adds }) => {
    const b = basePool();
    const { disks, managed, claims } = given(b);
    const name = managed ? 'web' : 'legacy';
    const desired = desiredState({ vms: [vm(name, { template: live('Debian Bookworm 12'), disks })], policies: managed ? [] : [policy({ adopt: true })] });
    const plan = planChanges(desired, b.world.state, { now: new Date(0) });
    expect(plan.diagnostics).toEqual([]);
    expect(summarize(plan).actions).toEqual(actions);
    const adopt = plan.actions.find((a) => a.operation === 'adopt');
    if (!managed) {
      expect(adopt?.details?.['disks']).toEqual({ claim: claims.map((c) => ({ name: c.name, vdi: uuidOfDisk(b, c.vbd), match: c.match })) });
    }
    const update = plan.actions.find((a) => a.operation === 'update');
    const details = update?.details as { disks: { add: { name: string }[]; claim: { name: string; vdi: string }[] } } | undefined;
    if (adds) expect(details?.disks.add.map((d) => d.name)).toEqual(adds);
    // An update carries the same claims, so apply never creates a disk the VM already has.
    if (details) expect(details.disks.claim).toEqual(claims.map((c) => ({ name: c.name, vdi: uuidOfDisk(b, c.vbd) })));
    // Nothing the VM has is ever deleted: none of these disks carries xops' mark.
    expect(plan.actions.filter((a) => a.operation === 'delete')).toEqual([]);
  });
});
