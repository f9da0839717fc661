/**
 * readiness.waitForIP through the simulator: apply starts the VM and waits, on events, until its guest
 * agent reports an address in the range (VM_guest_metrics.networks); a guest that never does fails the
 * action and leaves the VM running.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/manifests/index.js';
import { inRange, reportedAddresses } from '../../src/kinds/vm/readiness.js';
import { applyFolder, failures, planFolder, simWithClient } from '../apply/helpers.js';

const NET = 'Pool-wide network associated with eth0';
const vm = (readiness: string, power = 'running') => `apiVersion: xops/v1
kind: VM
metadata: {name: ready}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: 1GiB
  networks:
    - network: ${NET}
  powerState: ${power}
  readiness: ${readiness}
`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(manifest: string) {
  const e = await simWithClient();
  cleanup.push(e.stop);
  const dir = await mkdtemp(join(tmpdir(), 'xops-ready-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'vm.yaml'), manifest);
  const net = (await e.client.call<string[]>('network.get_by_name_label', NET))[0]!;
  e.sim.guests.setDhcpRange(net, '192.168.50.10', 20);
  return { ...e, dir };
}

describe('readiness.waitForIP', () => {
  it('waits for the guest to report an address in the range; the apply then has it on record', async () => {
    const { client, dir } = await setup(vm('{waitForIP: 192.168.50.0/24, timeout: 1m}'));
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const ref = (await client.call<string[]>('VM.get_by_name_label', 'ready'))[0]!;
    const gm = await client.call<string>('VM.get_guest_metrics', ref);
    const ips = reportedAddresses(await client.call<Record<string, string>>('VM_guest_metrics.get_networks', gm));
    expect(ips).toEqual(['192.168.50.10']);
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
  });

  it('waits until an agent that reports late does so (agentReports manual: reported only when the test says)', async () => {
    const { client, sim, dir } = await setup(vm('{waitForIP: 192.168.50.0/24, timeout: 1m}'));
    sim.guests.agentReports = 'manual';
    const applying = applyFolder(client, dir);
    // The agent reports once the VM is running; apply is parked in event.from until then.
    for (;;) {
      const ref = (await client.call<string[]>('VM.get_by_name_label', 'ready'))[0];
      if (ref && (await client.call<string>('VM.get_power_state', ref)) === 'Running' && sim.guests.reportAll().length > 0) break;
      // Wakes on the next VM change (the clone, its start), not on a timer.
      await client.call('event.from', ['vm'], (await client.call<{ token: string }>('event.from', ['vm'], '', 0.001)).token, 5.001);
    }
    expect(failures((await applying).result)).toEqual([]);
  });

  it('fails the action when no address in the range comes, and leaves the VM running', async () => {
    const { client, dir } = await setup(vm('{waitForIP: 172.16.0.0/24, timeout: 1s}'));
    const { result } = await applyFolder(client, dir);
    const failed = failures(result);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain('not ready: the guest reported no address in 172.16.0.0/24 within 1s (reported: 192.168.50.10)');
    const ref = (await client.call<string[]>('VM.get_by_name_label', 'ready'))[0]!;
    expect(await client.call('VM.get_power_state', ref)).toBe('Running');
  });

  it('refuses a range that is not IPv4 CIDR, and a timeout beyond an hour', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xops-ready-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'vm.yaml'), vm('{waitForIP: 10.0.0.300/24, timeout: 2h}'));
    const { diagnostics } = await loadManifests(dir, {});
    expect(diagnostics.filter((d) => d.severity === 'error').map((d) => d.path).sort()).toEqual(['spec.readiness.timeout', 'spec.readiness.waitForIP']);
  });

  it('matches addresses to ranges bit by bit', () => {
    expect(inRange('10.1.2.3', '10.1.0.0/16')).toBe(true);
    expect(inRange('10.2.0.1', '10.1.0.0/16')).toBe(false);
    expect(inRange('192.168.1.255', '192.168.1.0/24')).toBe(true);
    expect(inRange('1.2.3.4', '0.0.0.0/0')).toBe(true);
    expect(inRange('fe80::1', '10.0.0.0/8')).toBe(false);
  });
});
