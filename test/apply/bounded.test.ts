import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/apply/context.js';
import { settlePreviousTasks, TASK_KEY } from '../../src/apply/inflight.js';
import { DISK_KEY, MANAGED_KEY, VIF_KEY } from '../../src/model/observed.js';
import type { Simulator } from '../../src/sim/index.js';
import { KILL_VM } from '../../bench/kill-points.js';
import { applyPlan } from '../../src/apply/executor.js';
import { processSecretSource } from '../../src/secrets/index.js';
import { XapiClient } from '../../src/xapi/client.js';
import { applyFolder, failures, planFolder, simWithClient } from './helpers.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function env() {
  const e = await simWithClient();
  cleanup.push(e.stop);
  return e;
}

async function folder(vm: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xops-bounded-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'vm.yaml'), vm);
  return dir;
}

const vmYaml = (o: { memory?: string; disks?: string } = {}) => `apiVersion: xops/v1
kind: VM
metadata: {name: big}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: ${o.memory ?? '1GiB'}
  disks:
${o.disks ?? '    - {name: root, size: 10GiB}'}
  networks:
    - network: Pool-wide network associated with eth0
  powerState: running
`;

/** Everything left of VM/big: VMs by its mark or pending name, disks by its mark or `big-` name. */
function leftovers(sim: Simulator): string[] {
  const out: string[] = [];
  for (const o of sim.db.all('VM')) {
    const oc = o.rec.other_config as Record<string, string>;
    if (oc[MANAGED_KEY] === 'VM/big' || String(o.rec.name_label).startsWith('xops-pending:')) out.push(`VM ${String(o.rec.name_label)}`);
  }
  for (const o of sim.db.all('VDI')) {
    const oc = o.rec.other_config as Record<string, string>;
    if (oc[MANAGED_KEY] === 'VM/big' || String(o.rec.name_label).startsWith('big-')) out.push(`VDI ${String(o.rec.name_label)}`);
  }
  return out;
}

/**
 * The planner refuses what does not fit (its capacity preflight); these cases are the pool changing
 * between plan and apply, played by planning a small VM and applying the plan with a bigger spec.
 */
async function applyGrown(client: Parameters<typeof planFolder>[0], dir: string, grow: (spec: Record<string, unknown>) => void, repo?: string) {
  const { plan } = await planFolder(client, dir);
  for (const a of plan.actions) {
    const d = a.desired as { spec?: Record<string, unknown> } | undefined;
    if (a.id === 'create:VM/big' && d) grow(d.spec ?? (d as Record<string, unknown>));
  }
  return applyPlan(plan, client, { ...(repo ? { repo } : {}), secrets: processSecretSource(dir), destructiveAllowed: () => true, retryDelayMs: 20 });
}

describe('a create the pool refuses for good is undone', () => {
  it('removes the clone and its disks when no host has the memory, and does not retry', async () => {
    const { client, sim } = await env();
    const dir = await folder(vmYaml({ memory: '1GiB' }));
    const result = await applyGrown(client, dir, (spec) => {
      spec['memory'] = 200 * 1024 ** 3;
      spec['memoryMax'] = 200 * 1024 ** 3;
    }, 'test-repo');
    const r = result.results.find((x) => x.action.id === 'create:VM/big')!;
    expect(r.state).toBe('failed');
    expect(r.reason).toMatch(/undone.*HOST_NOT_ENOUGH_FREE_MEMORY/);
    expect(r.attempts).toBe(1);
    expect(leftovers(sim)).toEqual([]);
  });

  it('removes the clone and the disks made so far when a disk does not fit its SR', async () => {
    const { client, sim } = await env();
    // Local storage is LVM (thick): a 1.5 TiB disk on its 930 GiB fails with the storage manager's
    // "insufficient space" (SR_BACKEND_FAILURE_44) after the first disk exists.
    const dir = await folder(vmYaml({ disks: '    - {name: root, size: 10GiB}\n    - {name: huge, size: 10GiB, sr: Local storage on xcp-host1}' }));
    const result = await applyGrown(client, dir, (spec) => {
      (spec['disks'] as { name: string; size: number }[])[1]!.size = 1536 * 1024 ** 3;
    });
    const r = result.results.find((x) => x.action.id === 'create:VM/big')!;
    expect(r.state).toBe('failed');
    expect(r.reason).toMatch(/undone.*SR_BACKEND_FAILURE_44/);
    expect(leftovers(sim)).toEqual([]);
  });
});

describe('apply is bounded in time', () => {
  it('fails an action past its deadline and cancels the XAPI task it was waiting on', async () => {
    const { client, sim } = await env();
    // A clone whose task never finishes, as a wedged host would leave it.
    sim.setHandler('VM.clone', () => new Promise(() => {}));
    const dir = await folder(vmYaml());
    const { result } = await applyFolder(client, dir, { actionTimeoutMs: 300 });
    const r = result.results.find((x) => x.action.id === 'create:VM/big')!;
    expect(r.state).toBe('failed');
    expect(r.reason).toBe('VM/big: did not finish within its deadline of 300 ms; its XAPI task was cancelled');
    expect(r.attempts).toBe(1);
    const clones = [...sim.db.all('task')].filter((t) => t.rec.name_label === 'Async.VM.clone');
    expect(clones.map((t) => [t.rec.status, (t.rec.other_config as Record<string, string>)[TASK_KEY]])).toEqual([['cancelled', 'VM/big']]);
  });

  it('settles only the tasks xops started, and cancels one still pending at its deadline', async () => {
    const { client, sim } = await env();
    sim.setHandler('VM.clone', () => new Promise(() => {}));
    const template = [...sim.db.all('VM')].find((o) => o.rec.name_label === 'Debian Bookworm 12')!.ref;
    const foreign = await client.call<string>('Async.VM.clone', template, 'someone else');
    sim.stats.reset();
    // A foreign tool's task, however long, is not waited for: not even looked at.
    expect(await settlePreviousTasks(client, silentLogger, 60_000)).toBe(0);
    expect(sim.stats.get('task.get_status')).toBe(0);

    const ours = await client.call<string>('Async.VM.clone', template, 'xops-pending:VM/x');
    await client.call('task.add_to_other_config', ours, TASK_KEY, 'VM/x');
    expect(await settlePreviousTasks(client, silentLogger, 100, 10)).toBe(1);
    expect(sim.db.record(ours).status).toBe('cancelled');
    expect(sim.db.record(foreign).status).toBe('pending');
  });
});

describe('planner and apply share one disk/VIF identity rule', () => {
  it('a disk whose marks were written in part is the declared disk for both: no second disk, no phantom change', async () => {
    const { client, sim } = await env();
    const dir = await folder(KILL_VM);
    expect(failures((await applyFolder(client, dir)).result)).toEqual([]);
    const vm = [...sim.db.all('VM')].find((o) => o.rec.name_label === 'kp-01')!;
    const vdis = (vm.rec.VBDs as string[]).map((b) => sim.db.record(b).VDI as string);
    const data = vdis.find((v) => (sim.db.record(v).other_config as Record<string, string>)[DISK_KEY] === 'data')!;
    // The state an interrupted, key-at-a-time claim left before this fix: xops.managed without xops.disk.
    sim.db.mutate(data, 'other_config', (o: Record<string, string>) => delete o[DISK_KEY]);
    const vif = (vm.rec.VIFs as string[]).find((v) => (sim.db.record(v).other_config as Record<string, string>)[VIF_KEY] === '1')!;
    sim.db.mutate(vif, 'other_config', (o: Record<string, string>) => delete o[VIF_KEY]);

    // Matched by name (`kp-01-data`) and by device: nothing to add, for the planner...
    expect((await planFolder(client, dir)).plan.actions).toEqual([]);
    // ...and for apply, when an update makes it converge the disks (root grows): it marks the data disk, adds none.
    const grown = await folder(KILL_VM.replace('size: 12GiB', 'size: 14GiB'));
    const { plan, result } = await applyFolder(client, grown);
    expect(plan.actions.map((a) => a.id)).toEqual(['update:VM/kp-01']);
    expect(failures(result)).toEqual([]);
    expect((await planFolder(client, grown)).plan.actions).toEqual([]);
    expect((sim.db.record(data).other_config as Record<string, string>)[DISK_KEY]).toBe('data');
    const after = [...sim.db.all('VM')].find((o) => o.rec.name_label === 'kp-01')!;
    const labels = (after.rec.VBDs as string[]).map((b) => sim.db.record(sim.db.record(b).VDI as string).name_label).sort();
    expect(labels).toEqual(['kp-01-data', 'kp-01-root']);
    expect([...sim.db.all('VDI')].filter((o) => String(o.rec.name_label).startsWith('kp-01-'))).toHaveLength(2);
    expect(after.rec.VIFs as string[]).toHaveLength(2);
  });
});

describe('a task that never ends', () => {
  // The operator's per-method task deadlines (XapiClient taskDeadlines) hold inside apply's own
  // per-action deadline: apply watches its tasks itself, and once ignored them for the action's half hour.
  it('fails its action at the task deadline, and the retry finishes the clone the hung task made', async () => {
    const { sim } = await env();
    const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', taskDeadlines: { 'VM.clone': 300 } });
    cleanup.push(() => client.close());
    const dir = await folder(vmYaml());
    // The clone runs, but its task never reports an end (and refuses task.cancel).
    sim.faults.inject({ methods: 'VM.clone', taskHang: { count: 1, runFirst: true } });
    const attempts: string[] = [];
    const { result } = await applyFolder(client, dir, {
      settleTimeoutMs: 200,
      log: { ...silentLogger, warn: (o: Record<string, unknown>, msg?: string) => void (msg === 'action failed; retrying' && attempts.push(String(o['err']))) },
    });
    expect(failures(result)).toEqual([]);
    expect(attempts).toEqual([expect.stringMatching(/^VM\.clone: task \S+ did not finish within 300 ms; could not cancel it; its outcome is unknown$/)]);
    // One VM, under its own name: the retry claimed the hung task's clone instead of cloning again.
    expect([...sim.db.all('VM')].filter((o) => o.rec.name_label === 'big' || String(o.rec.name_label).startsWith('xops-pending:')).map((o) => o.rec.name_label)).toEqual(['big']);
  });
});
