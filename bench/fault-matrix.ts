/**
 * The fault matrix (`npm run soak`): for each fault the simulator injects, a controller applies a
 * commit of 33 actions (networks, halted VMs with a disk and a VIF, an SMB SR with a secret); the
 * fault is injected when the fifth action starts and cleared after `holdMs`. Then the pool must converge:
 * `xops plan --detailed-exitcode` exits 0, no object is duplicated or left under a pending name, the
 * seed's unmanaged VMs are untouched, and no secret value is in the controller's log, `/status` or
 * `/metrics`. Each fault's time to converge (from the clear) goes in a table. test/apply/fault-matrix.test.ts
 * runs a fast subset.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { startController } from '../src/controller/controller.js';
import { createLogger } from '../src/controller/logger.js';
import { startSimulator, type FaultSpec, type Simulator } from '../src/sim/index.js';
import { LocalSource } from '../src/source/local-source.js';
import { XapiClient } from '../src/xapi/client.js';
import { poolProblems, unmanagedFingerprint } from './soak.js';

const CLI = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../dist/src/cli.js' : '../src/cli.js', import.meta.url));
const REPO = 'soak';
/** The SMB SR's password: searched for in everything the controller shows. */
const SECRET_ENV = 'XOPS_SECRET_FAULT_MATRIX_SMB';
const SECRET_VALUE = 'fault-matrix-Secret-4d1c';

/** One row of the matrix: a fault, and how long it lasts once injected. */
export interface FaultCase {
  name: string;
  fault: FaultSpec;
  /** How long after injection the faults are cleared (count-based faults may be used up sooner). */
  holdMs: number;
}

/**
 * Every fault, aimed at the calls a reconcile makes. Task and call deadlines are shortened on the
 * controller's client (see `clientDeadlines`) so that a hung task or an unanswered call fails within seconds.
 */
export const FAULT_CASES: readonly FaultCase[] = [
  { name: 'session expiry (all sessions)', fault: { sessionInvalid: 'all' }, holdMs: 0 },
  { name: 'SESSION_INVALID on the next calls', fault: { sessionInvalid: 3 }, holdMs: 0 },
  { name: 'EVENTS_LOST', fault: { eventsLost: 2 }, holdMs: 0 },
  { name: 'TOO_MANY_PENDING_TASKS', fault: { tooManyPendingTasks: 4 }, holdMs: 0 },
  { name: 'failing tasks', fault: { taskFailure: { count: 3 } }, holdMs: 0 },
  { name: 'task never completes (VM.provision)', fault: { methods: 'VM.provision', taskHang: 1 }, holdMs: 0 },
  { name: 'task hangs after running (VM.clone)', fault: { methods: 'VM.clone', taskHang: { count: 1, runFirst: true } }, holdMs: 0 },
  { name: 'connection reset on writes (after they ran)', fault: { connectionReset: { count: 3, writesOnly: true, afterExecute: true } }, holdMs: 0 },
  { name: 'connection reset on reads', fault: { methods: '*.get_*', connectionReset: { count: 3 } }, holdMs: 0 },
  { name: 'truncated replies', fault: { truncatedReply: 3 }, holdMs: 0 },
  { name: 'garbage reply after the call ran', fault: { garbageReply: 2 }, holdMs: 0 },
  { name: 'call accepted, never answered (after it ran)', fault: { methods: 'network.create', noReply: { count: 1, afterExecute: true } }, holdMs: 0 },
  { name: 'latency 200 ms on every call', fault: { latencyMs: 200 }, holdMs: 2000 },
  { name: 'master failover (HOST_IS_SLAVE)', fault: { failoverTo: 1 }, holdMs: 0 },
  { name: 'master goes dark (silent)', fault: { hostDark: { host: 0, mode: 'silent' } }, holdMs: 1500 },
  { name: 'master refuses connections', fault: { hostDark: { host: 0, mode: 'refuse' } }, holdMs: 1500 },
];

/** Short deadlines, so that a hung task or an unanswered call costs seconds, not the production minutes. */
const clientDeadlines = {
  timeoutMs: 3000,
  failoverTimeoutMs: 4000,
  taskDeadlines: { 'VM.provision': 2000, 'VM.clone': 2000, 'VM.copy': 2000, 'VDI.create': 2000, 'SR.create': 2000, 'PBD.plug': 2000, '*': 2000 },
};

/** A commit of `networks` private networks, `vms` halted VMs (one disk, one VIF each) and one SMB SR. */
export function matrixManifests(networks: number, vms: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < networks; i++) {
    files[`net-${i}.yaml`] = `apiVersion: xops/v1\nkind: Network\nmetadata: {name: fm-net-${i}}\nspec: {description: fault matrix ${i}}\n`;
  }
  for (let i = 0; i < vms; i++) {
    files[`vm-${i}.yaml`] = [
      'apiVersion: xops/v1', 'kind: VM', `metadata: {name: fm-vm-${i}}`, 'spec:', '  template: Debian Bookworm 12', '  vcpus: 1',
      '  memory: 512MiB', '  powerState: halted', '  disks:', '    - {name: root, size: 1GiB}', '  networks:', `    - network: fm-net-${i % networks}`, '',
    ].join('\n');
  }
  files['sr.yaml'] = [
    'apiVersion: xops/v1', 'kind: SR', 'metadata: {name: fm-smb}', 'spec:', '  type: smb', '  shared: true', '  deviceConfig:',
    '    server: //nas/fault-matrix', '    username: svc', `    password: {secretRef: {env: ${SECRET_ENV}}}`, '',
  ].join('\n');
  return files;
}

/** The URL of the pool's current master (a failover moves it): clients without the pool's host list must start there. */
function masterUrl(sim: Simulator): string {
  const master = String(sim.db.record(sim.poolRef).master);
  return sim.hostUrls[sim.hostRefs.indexOf(master)] || sim.url;
}

/** `xops plan DIR --detailed-exitcode` against the simulator: its exit code (0: nothing to do). */
function cliPlanExit(sim: Simulator, dir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'plan', dir, '--detailed-exitcode', '--repo-id', REPO], {
      env: { ...process.env, [SECRET_ENV]: SECRET_VALUE, XOPS_XAPI_URL: masterUrl(sim), XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** What one row found. */
export interface FaultResult {
  name: string;
  /** From the moment the faults were cleared until the pool had nothing left to do. */
  convergeMs?: number;
  problems: string[];
}

/**
 * Runs one row: a fresh pool and controller, the fault during the apply, then the checks. `cliPlan: false`
 * leaves out the final `xops plan --detailed-exitcode` (the same planner already found nothing to do).
 */
export async function runFaultCase(c: FaultCase, opts: { networks?: number; vms?: number; limitMs?: number; cliPlan?: boolean } = {}): Promise<FaultResult> {
  const limitMs = opts.limitMs ?? 60_000;
  const sim = await startSimulator({ port: 0, seed: 'demo' });
  const dir = mkdtempSync(join(tmpdir(), 'xops-fault-matrix-'));
  const log: string[] = [];
  const problems: string[] = [];
  let client: XapiClient | undefined;
  let controller: Awaited<ReturnType<typeof startController>> | undefined;
  const priorSecret = process.env[SECRET_ENV];
  process.env[SECRET_ENV] = SECRET_VALUE;
  try {
    for (const [name, text] of Object.entries(matrixManifests(opts.networks ?? 26, opts.vms ?? 6))) writeFileSync(join(dir, name), text);
    const before = unmanagedFingerprint(sim);
    const knownHosts = sim.hostUrls.filter(Boolean).map((u) => new URL(u).hostname);
    client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', knownHosts, ...clientDeadlines });
    let started = 0;
    let injectedAt: number | undefined;
    let clearedAt: number | undefined;
    const clear = () => {
      if (clearedAt !== undefined) return;
      sim.faults.clear();
      clearedAt = performance.now();
    };
    let clearTimer: NodeJS.Timeout | undefined;
    controller = await startController({
      source: new LocalSource({ dir }),
      caller: client,
      root: dir,
      repo: REPO,
      listen: { host: '127.0.0.1', port: 0 },
      backoff: { initialMs: 100, maxMs: 1000 },
      eventDebounceMs: 50,
      applyRetryDelayMs: 50,
      pollIntervalMs: 0,
      resyncIntervalMs: 0,
      leaseTakeoverSettleMs: 0,
      logger: createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _e, done) => (log.push(String(chunk)), done()) }) }),
      applyListener: {
        started() {
          if (++started !== 5 || injectedAt !== undefined) return;
          sim.faults.inject(c.fault);
          injectedAt = performance.now();
          clearTimer = setTimeout(clear, c.holdMs);
        },
      },
    });
    const deadline = performance.now() + limitMs;
    // Converged: the controller's work is done when a plan of the pool has nothing left and nothing is wrong.
    let remaining: string[] = ['not checked yet'];
    while (performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      if (clearedAt === undefined) continue;
      remaining = await poolProblems(sim, dir, before, REPO, masterUrl(sim)).catch((err: unknown) => [`check failed: ${String(err)}`]);
      if (remaining.length === 0) break;
    }
    if (clearTimer) clearTimeout(clearTimer);
    if (injectedAt === undefined) problems.push('the fault was never injected (fewer than 5 actions started)');
    const convergeMs = remaining.length === 0 && clearedAt !== undefined ? performance.now() - clearedAt : undefined;
    if (remaining.length > 0) problems.push(...remaining.map((p) => `not converged within ${limitMs / 1000} s: ${p}`));
    const shown = [log.join(''), await (await fetch(`${controller.url}/status`)).text(), await (await fetch(`${controller.url}/metrics`)).text()];
    await controller.stop();
    controller = undefined;
    if (opts.cliPlan !== false) {
      const plan = await cliPlanExit(sim, dir);
      if (plan.code !== 0) problems.push(`xops plan --detailed-exitcode exited ${plan.code}: ${plan.out.trim().split('\n').slice(0, 6).join(' | ')}`);
      shown.push(plan.out);
    }
    if (shown.some((s) => s.includes(SECRET_VALUE))) problems.push('the SMB secret value appears in a log, /status, /metrics or plan output');
    return { name: c.name, ...(convergeMs !== undefined ? { convergeMs } : {}), problems };
  } finally {
    await controller?.stop().catch(() => undefined);
    await client?.close().catch(() => undefined);
    sim.faults.clear();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
    if (priorSecret === undefined) delete process.env[SECRET_ENV];
    else process.env[SECRET_ENV] = priorSecret;
  }
}

/** The matrix as a table, one row per fault: time to converge after the clear, or what went wrong. */
export function matrixTable(results: readonly FaultResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length), 5);
  const lines = [`${'fault'.padEnd(width)}  converged after clear`, `${'-'.repeat(width)}  ---------------------`];
  for (const r of results) {
    const cell = r.problems.length === 0 && r.convergeMs !== undefined ? `${(r.convergeMs / 1000).toFixed(1)} s` : `FAILED (${r.problems.length} problem(s))`;
    lines.push(`${r.name.padEnd(width)}  ${cell}`);
  }
  return lines.join('\n') + '\n';
}

/** `npm run soak` (after the kill soak): every fault in FAULT_CASES. */
export async function benchFaultMatrix(): Promise<void> {
  const results: FaultResult[] = [];
  for (const c of FAULT_CASES) results.push(await runFaultCase(c));
  process.stdout.write(`\nFault matrix (${FAULT_CASES.length} faults, each injected while a controller applies 33 actions):\n${matrixTable(results)}`);
  for (const r of results) for (const p of r.problems) process.stdout.write(`  - ${r.name}: ${p}\n`);
  if (results.some((r) => r.problems.length > 0)) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchFaultMatrix().catch((err: unknown) => {
    process.stderr.write(`fault matrix failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
