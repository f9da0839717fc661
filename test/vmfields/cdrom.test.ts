/**
 * An install from an ISO: a VM from the empty "Other install media" template with a CD drive holding
 * an ISO (a VDI on an ISO SR) and booting from it first; the disc is changed live, the drive exported.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exportManifests } from '../../src/export/index.js';
import { takeSnapshot } from '../../src/observe/index.js';
import type { XapiClient } from '../../src/xapi/client.js';
import { applyFolder, failures, planFolder, simWithClient } from '../apply/helpers.js';

const vm = (cdrom: string) => `apiVersion: xops/v1
kind: VM
metadata: {name: installer}
spec:
  template: Other install media
  vcpus: 1
  memory: 1GiB
  disks:
    - {name: root, size: 10GiB, sr: pool-nfs}
  cdrom: ${cdrom}
  boot: {order: [cdrom, disk]}
  powerState: running
`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(manifest: string) {
  const e = await simWithClient();
  cleanup.push(e.stop);
  const dir = await mkdtemp(join(tmpdir(), 'xops-cdrom-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'vm.yaml'), manifest);
  return { ...e, dir };
}

async function cdDrive(client: XapiClient): Promise<{ vm: string; userdevice: string; empty: boolean; vdi: string; boot: Record<string, string>; power: string }> {
  const vm = (await client.call<string[]>('VM.get_by_name_label', 'installer'))[0]!;
  for (const ref of await client.call<string[]>('VM.get_VBDs', vm)) {
    const vbd = await client.call<{ type: string; userdevice: string; empty: boolean; VDI: string }>('VBD.get_record', ref);
    if (vbd.type !== 'CD') continue;
    const vdi = vbd.empty ? '' : await client.call<string>('VDI.get_name_label', vbd.VDI);
    return { vm, userdevice: vbd.userdevice, empty: vbd.empty, vdi, boot: await client.call('VM.get_HVM_boot_params', vm), power: await client.call('VM.get_power_state', vm) };
  }
  throw new Error('no CD drive');
}

describe('cdrom', () => {
  it('creates an installer VM booting from its ISO, changes the disc live, and exports the drive', async () => {
    const { client, dir } = await setup(vm('{iso: guest-tools.iso}'));
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    expect(await cdDrive(client)).toMatchObject({ userdevice: '3', empty: false, vdi: 'guest-tools.iso', power: 'Running', boot: { order: 'dc' } });
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);

    // Managed VMs are not exported; this one is, once its marks are gone.
    const { vm: ref } = await cdDrive(client);
    const oc = await client.call<Record<string, string>>('VM.get_other_config', ref);
    for (const key of Object.keys(oc)) if (key.startsWith('xops.')) await client.call('VM.remove_from_other_config', ref, key);
    const file = exportManifests(await takeSnapshot(client)).files.find((f) => f.address === 'VM/installer');
    expect(file?.content).toContain('cdrom:\n    iso: guest-tools.iso');
    expect(file?.content).toContain('order:\n      - cdrom\n      - disk');
  });

  it('ejects the disc live when the manifest declares an empty drive', async () => {
    const { client, dir } = await setup(vm('{iso: guest-tools.iso}'));
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    await writeFile(join(dir, 'vm.yaml'), vm('{}'));
    const { plan, result } = await applyFolder(client, dir);
    expect(plan.actions.map((a) => `${a.operation} ${a.disruption} ${a.changes.map((c) => c.path)}`)).toEqual(['update none spec.cdrom.iso']);
    expect(failures(result)).toEqual([]);
    expect(await cdDrive(client)).toMatchObject({ empty: true, power: 'Running' });
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  it('says so when no ISO SR holds the named ISO', async () => {
    const { client, dir } = await setup(vm('{iso: missing.iso}'));
    const { plan } = await planFolder(client, dir);
    expect(plan.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.path}: ${d.message}`)).toEqual(["spec.cdrom.iso: no ISO named 'missing.iso' on an ISO SR"]);
  });
});
