/**
 * The deterministic kill test: SIGKILLs `xops apply` (a real child process) between two exact XAPI
 * writes of a VM create, re-runs it, and checks that the pool converged. The simulator runs in this
 * process; its `freezeAfter` fault holds every request once the Nth write has executed, so the kill
 * lands at that point whatever the machine's speed. test/apply/kill-points.test.ts runs a sample of
 * the points; `npm run soak` runs every one.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DISK_KEY, MANAGED_KEY, VIF_KEY } from '../src/model/observed.js';
import { CLOUDINIT_KEY, CLOUDINIT_PENDING } from '../src/kinds/vm/cloud-init.js';
import { isReadOnlyMethod } from '../src/sim/faults.js';
import { startSimulator, type FaultSpec, type Simulator } from '../src/sim/index.js';
import { poolProblems, unmanagedFingerprint } from './soak.js';

const CLI = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../dist/src/cli.js' : '../src/cli.js', import.meta.url));

/** The VM every case creates: two disks (one from VM.provision, one VDI.create) and two VIFs. */
export const KILL_VM = `apiVersion: xops/v1
kind: VM
metadata:
  name: kp-01
spec:
  template: Debian Bookworm 12
  vcpus: 2
  memory: 2GiB
  disks:
    - name: root
      size: 12GiB
    - name: data
      size: 20GiB
  networks:
    - network: Pool-wide network associated with eth0
    - network: Pool-wide network associated with eth1
  powerState: running
  tags: [kill-test]
`;

/** The kill test's VM: KILL_VM with a cloud-init config drive, whose create adds its own writes. */
const KILL_VM_WITH_DRIVE = `${KILL_VM}  cloudInit:
    userData: |
      #cloud-config
      hostname: kp-01
`;

/** Runs one xops command against the simulator, with its own cache folder (the apply lease's holder identity). */
export function xops(sim: Simulator, cache: string, args: string[]): { exit: Promise<{ code: number | null; stderr: string }>; kill(): void } {
  const child = spawn(process.execPath, [CLI, ...args, '--repo-id', 'kill-points'], {
    env: { ...process.env, XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1', XDG_CACHE_HOME: cache },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  return { exit, kill: () => child.kill('SIGKILL') };
}

/** Records the writes (state-changing calls) the simulator receives, in order. */
function logWrites(sim: Simulator): string[] {
  const log: string[] = [];
  const record = sim.stats.record.bind(sim.stats);
  sim.stats.record = (method: string) => {
    if (!isReadOnlyMethod(method)) log.push(method);
    record(method);
  };
  return log;
}

/** What is wrong with the kill-test VM itself: its disks and VIFs, exactly the declared ones. */
function vmProblems(sim: Simulator): string[] {
  const problems: string[] = [];
  const vms = [...sim.db.all('VM')].map((o) => sim.db.record(o.ref)).filter((r) => (r.other_config as Record<string, string>)[MANAGED_KEY] === 'VM/kp-01' && !r.is_a_snapshot);
  if (vms.length !== 1) return [`${vms.length} VMs marked VM/kp-01`];
  const vm = vms[0]!;
  const disks = (vm.VBDs as string[]).map((vbd) => sim.db.record(vbd)).filter((b) => b.type === 'Disk').map((b) => sim.db.record(b.VDI as string));
  // The declared disks, and the cloud-init config drive (finished: its key holds the config's digest).
  const names = disks.map((d) => {
    const oc = d.other_config as Record<string, string>;
    if (oc[DISK_KEY] !== undefined) return oc[DISK_KEY];
    return oc[CLOUDINIT_KEY] !== undefined && oc[CLOUDINIT_KEY] !== CLOUDINIT_PENDING ? 'config-drive' : `unmarked:${String(d.name_label)}`;
  }).sort();
  if (names.join() !== 'config-drive,data,root') problems.push(`disks ${names.join()} (want config-drive,data,root)`);
  const vifs = (vm.VIFs as string[]).map((v) => (sim.db.record(v).other_config as Record<string, string>)[VIF_KEY] ?? 'unmarked').sort();
  if (vifs.join() !== '0,1') problems.push(`VIFs ${vifs.join()} (want 0,1)`);
  const markedVdis = [...sim.db.all('VDI')].filter((o) => (sim.db.record(o.ref).other_config as Record<string, string>)[MANAGED_KEY] === 'VM/kp-01');
  if (markedVdis.length !== 3) problems.push(`${markedVdis.length} VDIs marked VM/kp-01 (want 3: two disks and the config drive)`);
  return problems;
}

export interface KillPointsOptions {
  /**
   * The kill points: given the writes of an uninterrupted create in order, the numbers n (1-based)
   * to kill after. Default: every one, 1 .. writes-1.
   */
  points?: (writes: readonly string[]) => number[];
  /** Faults injected before the re-run (the re-run is repeated until it succeeds, at most 4 times). */
  faults?: FaultSpec[];
  /**
   * Check convergence with `xops plan --detailed-exitcode` in a child process (default true); false
   * checks the same plan in-process only (poolProblems), one child process less per case.
   */
  cliPlan?: boolean;
}

/** The writes of an uninterrupted create, measured once per process (every case starts from the same pool). */
let baseline: Promise<string[]> | undefined;

async function baselineWrites(root: string, dir: string): Promise<string[]> {
  const sim = await startSimulator({ port: 0, seed: 'demo', multiHost: false });
  try {
    const writes = logWrites(sim);
    const r = await xops(sim, join(root, 'cache-baseline'), ['apply', dir, '--yes']).exit;
    if (r.code !== 0) throw new Error(`baseline apply exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return writes;
  } finally {
    await sim.stop();
  }
}

export interface KillPointsReport {
  /** The writes of a full, uninterrupted create, in order (the kill points are 1 .. length-1). */
  writes: string[];
  cases: number;
  problems: string[];
}

/**
 * For every kill point n in `points` (default: all, 1 .. writes-1): a fresh simulator, `xops apply`
 * frozen after its nth write and SIGKILLed, then `xops apply` again (must exit 0) and
 * `xops plan --detailed-exitcode` (must exit 0), then the pool's checks.
 */
export async function killPoints(opts: KillPointsOptions = {}): Promise<KillPointsReport> {
  const root = await mkdtemp(join(tmpdir(), 'xops-kill-points-'));
  try {
    const dir = join(root, 'manifests');
    await mkdir(dir);
    await writeFile(join(dir, 'vm.yaml'), KILL_VM_WITH_DRIVE);
    const newSim = () => startSimulator({ port: 0, seed: 'demo', multiHost: false });
    const writes = await (baseline ??= baselineWrites(root, dir));
    const problems: string[] = [];
    const chosen = opts.points ? opts.points(writes) : Array.from({ length: writes.length - 1 }, (_, i) => i + 1);
    for (const n of chosen) {
      const sim = await newSim();
      const cache = join(root, `cache-${n}`);
      try {
        const before = unmanagedFingerprint(sim);
        sim.faults.inject({ freezeAfter: { writes: n } });
        const run = xops(sim, cache, ['apply', dir, '--yes']);
        const outcome = await Promise.race([sim.faults.freeze.whenFrozen().then(() => 'frozen' as const), run.exit.then(() => 'exited' as const)]);
        if (outcome === 'frozen') run.kill();
        const killed = await run.exit;
        sim.faults.clear();
        if (outcome === 'exited') {
          problems.push(`point ${n} (${writes[n - 1]}): apply exited (${killed.code}) before its write ${n}`);
          continue;
        }
        for (const f of opts.faults ?? []) sim.faults.inject(f);
        // Injected faults are counted: a re-run may fail on one, and a later one converges.
        let again = await xops(sim, cache, ['apply', dir, '--yes']).exit;
        for (let extra = 0; again.code !== 0 && opts.faults?.length && extra < 3; extra++) again = await xops(sim, cache, ['apply', dir, '--yes']).exit;
        sim.faults.clear();
        if (again.code !== 0) problems.push(`point ${n} (after ${writes[n - 1]}): re-run apply exited ${again.code}: ${again.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        const plan = opts.cliPlan === false ? { code: 0 } : await xops(sim, cache, ['plan', dir, '--detailed-exitcode']).exit;
        if (plan.code !== 0) problems.push(`point ${n} (after ${writes[n - 1]}): plan --detailed-exitcode exited ${plan.code}`);
        problems.push(...vmProblems(sim).map((p) => `point ${n}: ${p}`));
        problems.push(...(await poolProblems(sim, dir, before, 'kill-points')).map((p) => `point ${n}: ${p}`));
      } finally {
        sim.faults.clear();
        await sim.stop();
      }
    }
    return { writes, cases: chosen.length, problems };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** `npm run soak` (after the random-moment soak): every kill point of the create, plain and under faults. */
async function main(): Promise<void> {
  const variants: [string, KillPointsOptions][] = [
    ['SIGKILL after every write of a VM create', {}],
    ['SIGKILL after every write, re-run under faults (connection reset after a write executed, task failure, SESSION_INVALID)', {
      faults: [{ connectionReset: { count: 2, writesOnly: true, afterExecute: true } }, { taskFailure: { count: 1 } }, { sessionInvalid: 2 }],
      cliPlan: false,
    }],
  ];
  let failed = false;
  for (const [name, opts] of variants) {
    const t0 = performance.now();
    const r = await killPoints(opts);
    process.stdout.write(`${name}: ${r.cases} kill points (${r.writes.length} writes), ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
      `${r.problems.length ? `${r.problems.length} PROBLEMS` : 'every one converged: declared disks and VIFs only, nothing pending, no duplicate'}\n`);
    for (const p of r.problems) process.stdout.write(`  - ${p}\n`);
    failed ||= r.problems.length > 0;
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`kill points failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
