/**
 * The kill test (`npm run soak`): applies the examples with `xops apply` in a child process, SIGKILLs
 * it at random moments (optionally under injected faults), re-runs it, and checks that the pool
 * converged with no duplicate, pending or orphaned object and the seed's unmanaged VMs untouched.
 * The simulator runs in this process, so it outlives every killed apply. test/apply/kill.test.ts
 * runs a lighter version.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MANAGED_KEY } from '../src/model/observed.js';
import { loadManifests, liveInventoryFrom } from '../src/manifests/index.js';
import { takeSnapshot } from '../src/observe/snapshot.js';
import { planChanges } from '../src/plan/index.js';
import { startSimulator, type FaultSpec, type Simulator } from '../src/sim/index.js';
import { XapiClient } from '../src/xapi/client.js';
import { prng } from './prng.js';

// The built CLI, whether this module runs built (dist/bench/soak.js) or from source under vitest (bench/soak.ts).
const CLI = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../dist/src/cli.js' : '../src/cli.js', import.meta.url));


/** Runs `xops apply DIR --yes` against the simulator; kills it with SIGKILL after `killAfterMs` if given. */
export function runApply(sim: Simulator, dir: string, killAfterMs?: number): Promise<{ code: number | null; killed: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'apply', dir, '--yes', '--repo-id', 'soak'], {
      // The examples' SMB SR reads its password from the environment.
      env: { XOPS_SECRET_SMB_ARCHIVE_PASSWORD: 'demo-only', ...process.env, XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed = false;
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => {
      killed = child.kill('SIGKILL');
    }, killAfterMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, killed, stderr });
    });
  });
}

/** The unmanaged VMs of the seed, as fingerprints to compare before and after. */
export function unmanagedFingerprint(sim: Simulator): Map<string, string> {
  const out = new Map<string, string>();
  for (const obj of sim.db.all('VM')) {
    const ref = obj.ref;
    const rec = sim.db.record(ref);
    const oc = rec.other_config as Record<string, string>;
    if (rec.is_a_template || rec.is_control_domain || rec.is_a_snapshot || oc[MANAGED_KEY]) continue;
    const { name_label, power_state, VBDs, VIFs, memory_static_max, VCPUs_max, tags } = rec;
    out.set(ref, JSON.stringify({ name_label, power_state, VBDs, VIFs, memory_static_max, VCPUs_max, tags, oc }));
  }
  return out;
}

/**
 * Everything wrong with the pool after the runs: remaining plan actions, duplicate marks, objects
 * still under a pending name, marked disks not attached to their VM, changed unmanaged VMs. `url`:
 * the master's, when a failover moved it.
 */
export async function poolProblems(sim: Simulator, dir: string, before: Map<string, string>, repo = 'soak', url = sim.url): Promise<string[]> {
  const client = await XapiClient.connect({ url, user: 'root', password: 'xops' });
  try {
    const observed = await takeSnapshot(client);
    const { desired } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
    const plan = planChanges(desired, observed, { repo });
    const problems = plan.actions.map((a) => `still planned: ${a.id}`);
    problems.push(...plan.diagnostics.filter((d) => d.severity === 'error').map((d) => `plan error: ${d.address}: ${d.message}`));
    const marks = new Map<string, number>();
    for (const cls of ['VM', 'network', 'SR'] as const) {
      for (const rec of observed.records[cls].values()) {
        const label = String(rec['name_label'] ?? '');
        if (label.startsWith('xops-pending:')) problems.push(`pending ${cls} left: ${label}`);
        const mark = (rec['other_config'] as Record<string, string>)?.[MANAGED_KEY];
        if (mark && !(cls === 'VM' && (rec['is_a_snapshot'] as boolean))) marks.set(`${cls} ${mark}`, (marks.get(`${cls} ${mark}`) ?? 0) + 1);
      }
    }
    for (const rec of observed.records.VM_appliance.values()) if (rec.name_label.startsWith('xops-pending:')) problems.push(`pending appliance left: ${rec.name_label}`);
    const apps = new Map<string, number>();
    for (const rec of observed.records.VM_appliance.values()) apps.set(rec.name_label, (apps.get(rec.name_label) ?? 0) + 1);
    for (const [name, n] of apps) if (n > 1) problems.push(`duplicate: ${n} appliances named ${name}`);
    for (const [ref, vdi] of observed.records.VDI) {
      const mark = vdi.other_config?.[MANAGED_KEY];
      if (!mark) continue;
      // A standalone Disk's VDI belongs to no VM: it must exist once, with its content complete.
      if (mark.startsWith('Disk/')) {
        marks.set(`VDI ${mark}`, (marks.get(`VDI ${mark}`) ?? 0) + 1);
        if (vdi.other_config['xops.content'] === 'pending') problems.push(`upload left pending: ${mark}`);
        continue;
      }
      const attachedTo = vdi.VBDs.map((vbd) => observed.records.VBD.get(vbd)?.VM).map((vm) => (vm ? observed.records.VM.get(vm)?.other_config?.[MANAGED_KEY] : undefined));
      if (!attachedTo.includes(mark)) problems.push(`orphaned disk ${vdi.name_label} (${ref}) marked ${mark}`);
    }
    for (const [key, n] of marks) if (n > 1) problems.push(`duplicate: ${n} objects marked ${key}`);
    const after = unmanagedFingerprint(sim);
    for (const [ref, print] of before) if (after.get(ref) !== print) problems.push(`unmanaged VM ${ref} changed`);
    return problems;
  } finally {
    await client.close();
  }
}

export interface SoakOptions {
  dir: string;
  kills: number;
  seed: number;
  /** Latency added to every call, so an apply lasts long enough to be killed in the middle. */
  latencyMs: number;
  /** Kill moments are drawn from [minKillMs, maxKillMs). */
  minKillMs: number;
  maxKillMs: number;
  /** Faults injected before each run, cycled. */
  faults?: FaultSpec[];
}

export interface SoakReport {
  runs: number;
  killed: number;
  /** Killed runs that had already changed the pool: interrupted in the middle of applying. */
  killedMidApply: number;
  problems: string[];
  ms: number;
}

/**
 * Kills `kills` applies at random moments. Work goes in rounds on a fresh simulator: kill runs until
 * one finishes by itself, then check the pool; a round's pool is fresh so every kill lands while
 * there is still work to interrupt.
 */
export async function soak(opts: SoakOptions): Promise<SoakReport> {
  const t0 = performance.now();
  const random = prng(opts.seed);
  const problems: string[] = [];
  let killed = 0;
  let killedMidApply = 0;
  let runs = 0;
  let faultIndex = 0;
  for (let round = 0; killed < opts.kills && round < opts.kills * 2; round++) {
    const sim = await startSimulator({ port: 0, seed: 'demo', multiHost: false });
    try {
      const before = unmanagedFingerprint(sim);
      const objects = () => ['VM', 'VDI', 'VBD', 'VIF', 'network', 'SR', 'PBD', 'VM_appliance'].map((c) => sim.db.count(c)).join(',') + JSON.stringify(sim.db.record(sim.poolRef).other_config);
      sim.faults.inject({ latencyMs: opts.latencyMs });
      for (;;) {
        const fault = opts.faults?.[faultIndex++ % opts.faults.length];
        if (fault) sim.faults.inject(fault);
        const at = opts.minKillMs + random() * (opts.maxKillMs - opts.minKillMs);
        const start = objects();
        const r = await runApply(sim, opts.dir, killed < opts.kills ? at : undefined);
        runs++;
        if (!r.killed) break;
        killed++;
        if (objects() !== start) killedMidApply++;
      }
      sim.faults.inject({ latencyMs: 0 });
      // Injected faults may still be pending: a run can legitimately fail on one; the next converges.
      let last = await runApply(sim, opts.dir);
      for (let extra = 0; last.code !== 0 && extra < 3; extra++) last = await runApply(sim, opts.dir);
      runs++;
      sim.faults.clear();
      problems.push(...(await poolProblems(sim, opts.dir, before)).map((p) => `round ${round}: ${p}`));
      if (last.code !== 0) problems.push(`round ${round}: final apply exited ${last.code}: ${last.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    } finally {
      await sim.stop();
    }
  }
  return { runs, killed, killedMidApply, problems, ms: performance.now() - t0 };
}

/** `npm run soak`: 20 kills plain, then 20 under the three injected faults. */
export async function benchSoak(): Promise<void> {
  const seed = Number(process.env['SOAK_SEED'] ?? Date.now() % 100000);
  // At 10 ms a call, an apply of the examples spends ~1.3 s starting, observing and planning and
  // ~2 s applying: kill moments cover both, mostly the second.
  const base = { dir: 'examples', kills: 20, seed, latencyMs: 10, minKillMs: 900, maxKillMs: 3400 };
  const runsOf: [string, SoakOptions][] = [
    ['SIGKILL at random moments', base],
    ['SIGKILL + faults (connection reset on writes, task failure, SESSION_INVALID)', {
      ...base,
      seed: seed + 1,
      faults: [
        { connectionReset: { count: 2, writesOnly: true, afterExecute: true } },
        { taskFailure: { count: 2 } },
        { sessionInvalid: 2 },
      ],
    }],
  ];
  let failed = false;
  for (const [name, opts] of runsOf) {
    const r = await soak(opts);
    process.stdout.write(`${name}: seed ${opts.seed}, ${r.runs} runs, ${r.killed} killed (${r.killedMidApply} mid-apply), ${(r.ms / 1000).toFixed(1)} s, ` +
      `${r.problems.length ? `${r.problems.length} PROBLEMS` : 'pool converged: no duplicates, no orphans, unmanaged VMs untouched'}\n`);
    for (const p of r.problems) process.stdout.write(`  - ${p}\n`);
    failed ||= r.problems.length > 0;
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchSoak().catch((err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
