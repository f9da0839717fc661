/**
 * Planning at scale: `xops plan` for a pool of 10k VMs that manifests declare, 1% of which changed.
 * The simulator runs in a child process (so RSS is the planner's). Prints the wall time of a cold
 * plan (snapshot + planChanges) against the floor (the same get_all_records replies fetched over
 * JSON-RPC and JSON.parse'd, nothing else), the XAPI calls it made, and RSS.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { DesiredState, DesiredVM } from '../src/model/desired.js';
import { OBSERVED_CLASSES, type ObservedState } from '../src/model/observed.js';
import { takeSnapshot } from '../src/observe/index.js';
import { planChanges } from '../src/plan/index.js';
import { XapiClient } from '../src/xapi/client.js';
import type { Simulator } from '../src/sim/index.js';

const CHILD_FLAG = 'XOPS_PLAN_BENCH_SIM';
const VMS = 10_000;
const REPS = 3;

/** Makes the simulator's scale VMs xops' own, as if apply had created them: marks on VMs, disks and VIFs. */
export function markScaleVmsManaged(sim: Simulator): void {
  for (const vm of sim.db.all('VM')) {
    const name = vm.rec.name_label as string;
    if (!name.startsWith('scale-vm-')) continue;
    sim.db.mutate(vm.ref, 'other_config', (oc: Record<string, string>) => { oc['xops.managed'] = `VM/${name}`; });
    for (const vbd of vm.rec.VBDs as string[]) {
      const v = sim.db.record(vbd);
      if (v.type !== 'Disk' || v.empty) continue;
      sim.db.mutate(v.VDI as string, 'other_config', (oc: Record<string, string>) => { oc['xops.disk'] = `disk${v.userdevice}`; });
    }
    for (const vif of vm.rec.VIFs as string[]) {
      const device = sim.db.record(vif).device as string;
      sim.db.mutate(vif, 'other_config', (oc: Record<string, string>) => { oc['xops.vif'] = device; });
    }
  }
}

async function runSimChild(vms: number): Promise<void> {
  const { startSimulator } = await import('../src/sim/index.js');
  const sim = await startSimulator({ port: 0, seed: 'demo', vms });
  markScaleVmsManaged(sim);
  process.on('message', async (m: string) => {
    if (m === 'stop') {
      await sim.stop();
      process.exit(0);
    }
  });
  process.send!({ url: sim.url });
}

async function startSimChild(vms: number): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [CHILD_FLAG]: String(vms) }, stdio: 'inherit' });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`simulator child exited (${code})`)));
  });
  return { url, child };
}

/** The floor: the same get_all_records replies over JSON-RPC, fetched concurrently and parsed, nothing else. */
async function floor(url: string): Promise<number> {
  const rpc = async (method: string, params: unknown[]) => {
    const res = await fetch(`${url}/jsonrpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
    return JSON.parse(await res.text()) as { result: unknown };
  };
  const session = (await rpc('session.login_with_password', ['root', 'xops', '1.0', 'bench'])).result as string;
  const t0 = performance.now();
  await Promise.all(OBSERVED_CLASSES.map((cls) => rpc(`${cls}.get_all_records`, [session])));
  const ms = performance.now() - t0;
  await rpc('session.logout', [session]);
  return ms;
}

/** Manifests for every managed VM as it is, with 1% asking for more memory (within static_max: live). */
export function manifestsFor(observed: ObservedState): DesiredState {
  const vms: DesiredVM[] = [];
  let i = 0;
  for (const rec of observed.records.VM.values()) {
    const address = rec.other_config['xops.managed'];
    if (!address?.startsWith('VM/') || rec.is_a_template) continue;
    const name = address.slice(3);
    const disks = rec.VBDs.flatMap((vbd) => {
      const v = observed.records.VBD.get(vbd);
      const vdi = v && observed.records.VDI.get(v.VDI);
      return vdi && v.type === 'Disk' ? [{ name: vdi.other_config['xops.disk']!, size: vdi.virtual_size }] : [];
    });
    const networks = rec.VIFs.map((vif) => ({ network: { name: observed.records.network.get(observed.records.VIF.get(vif)!.network)!.uuid, target: 'live' as const, checked: true } }));
    const changed = i++ % 100 === 0;
    vms.push({
      kind: 'VM',
      meta: { name, labels: {}, annotations: {}, source: { file: `vms/${name}.yaml`, line: 1, col: 1 } },
      spec: {
        nameLabel: rec.name_label, template: { name: rec.other_config['base_template_name'] ?? 'Debian Bookworm 12', target: 'live', checked: true },
        vcpus: rec.VCPUs_at_startup, vcpusMax: rec.VCPUs_max, memory: changed ? rec.memory_dynamic_max * 2 : rec.memory_dynamic_max,
        memoryMax: changed ? rec.memory_static_max * 2 : rec.memory_static_max, disks, networks,
        powerState: rec.power_state.toLowerCase() as DesiredVM['spec']['powerState'], tags: [], otherConfig: {},
      },
    });
  }
  return { source: { commit: 'bench', path: '.' }, hosts: [], networks: [], srs: [], disks: [], vms, appliances: [], snapshotSchedules: [], vmGroups: [], policies: [], documents: [] };
}

export async function benchPlan(): Promise<void> {
  const { url, child } = await startSimChild(VMS);
  try {
    const warm = await XapiClient.connect({ url, user: 'root', password: 'xops', transport: 'jsonrpc' });
    const desired = manifestsFor(await takeSnapshot(warm));
    await warm.close();
    const rows: { floor: number; snapshot: number; plan: number; calls: number; actions: number }[] = [];
    for (let r = 0; r < REPS; r++) {
      const f = await floor(url);
      const client = await XapiClient.connect({ url, user: 'root', password: 'xops', transport: 'jsonrpc' });
      const before = client.stats.calls;
      const t0 = performance.now();
      const observed = await takeSnapshot(client);
      const t1 = performance.now();
      const plan = planChanges(desired, observed, { now: new Date() });
      const t2 = performance.now();
      rows.push({ floor: f, snapshot: t1 - t0, plan: t2 - t1, calls: client.stats.calls - before, actions: plan.actions.length });
      await client.close();
    }
    const med = (k: keyof (typeof rows)[number]) => [...rows.map((x) => x[k])].sort((a, b) => a - b)[Math.floor(rows.length / 2)]!;
    const total = med('snapshot') + med('plan');
    console.log(`plan @ ${desired.vms.length} VM manifests (${VMS} sim VMs, jsonrpc, median of ${REPS}):`);
    console.log(`  floor (get_all_records fetch+parse) ${med('floor').toFixed(0)} ms`);
    console.log(`  snapshot ${med('snapshot').toFixed(0)} ms + planChanges ${med('plan').toFixed(0)} ms = ${total.toFixed(0)} ms  (ratio ${(total / med('floor')).toFixed(2)} to the floor)`);
    console.log(`  XAPI calls (cold, after login) ${med('calls')}; actions planned ${med('actions')}`);
    console.log(`  RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (planner process; the simulator runs in a child)`);
  } finally {
    child.send('stop');
  }
}

if (process.env[CHILD_FLAG]) void runSimChild(Number(process.env[CHILD_FLAG]));
else if (process.argv[1] === fileURLToPath(import.meta.url)) void benchPlan();
