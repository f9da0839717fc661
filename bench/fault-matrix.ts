/**
 * The fault matrix (`npm run soak`): for each fault the simulator injects, a controller applies a
 * commit of 33 actions (networks, halted VMs with a disk and a VIF, an SMB SR with a secret), with the
 * fault injected when the fifth action starts and cleared after `holdMs`; once the pool converged, a
 * follow-up commit (12 actions: descriptions, the SMB password rotated, one more VM) is applied under the same
 * fault, injected at its third action. After each, the pool must converge: a plan has nothing to do, no
 * object is duplicated or left under a pending name, the seed's unmanaged VMs are untouched, the SR's
 * secrets hold the declared password; at the end `xops plan --detailed-exitcode` exits 0 and no secret
 * value is in the controller's log, `/status`, `/metrics` or the plan output. Each fault's time to
 * converge (from the clear) goes in a table. test/apply/fault-matrix.test.ts runs a fast subset.
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
/** How long stopping the controller may take (it finishes the action in flight); beyond, the row reports it. */
const STOP_LIMIT_MS = 40_000;

/** Whether `p` settled within `ms` (it is left running otherwise). */
async function bounded(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A count-based fault not used up by then (aimed at calls the commit does not make) is cleared anyway, and reported. */
const USE_UP_LIMIT_MS = 20_000;
/** The SMB SR's password in the first commit and after the follow-up: searched for in everything the controller shows. */
const SECRET_ENV = 'XOPS_SECRET_FAULT_MATRIX_SMB';
const SECRET_VALUES = ['fault-matrix-Secret-4d1c', 'fault-matrix-Rotated-9e2b'] as const;

/** One row of the matrix: a fault, and how long it lasts once injected. */
export interface FaultCase {
  name: string;
  fault: FaultSpec;
  /**
   * How long after injection the faults are cleared, at the earliest: a count-based fault is cleared
   * only once it has been used up (the next N matching calls met it).
   */
  holdMs: number;
  /** The fault for the follow-up commit, when it differs (a failover moves the master back). */
  followUpFault?: FaultSpec;
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
  // The follow-up creates no network: there the unanswered call is the password rotation.
  {
    name: 'call accepted, never answered (after it ran)', fault: { methods: 'network.create', noReply: { count: 1, afterExecute: true } },
    followUpFault: { methods: 'secret.set_value', noReply: { count: 1, afterExecute: true } }, holdMs: 0,
  },
  { name: 'latency 200 ms on every call', fault: { latencyMs: 200 }, holdMs: 2000 },
  { name: 'master failover (HOST_IS_SLAVE)', fault: { failoverTo: 1 }, followUpFault: { failoverTo: 0 }, holdMs: 0 },
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
function cliPlanExit(sim: Simulator, dir: string, secret: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'plan', dir, '--detailed-exitcode', '--repo-id', REPO], {
      env: { ...process.env, [SECRET_ENV]: secret, XOPS_XAPI_URL: masterUrl(sim), XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' },
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
  /** From the moment the faults were cleared until the pool had nothing left to do, per commit. */
  convergeMs: { first?: number; followUp?: number };
  problems: string[];
}

/**
 * The follow-up commit: ten networks' descriptions changed, the SMB password rotated and one more VM
 * (12 actions with the default sizes; the VM's clone and provision tasks meet the faults aimed at them).
 */
function followUpManifests(networks: number, vms: number): Record<string, string> {
  const files = { ...matrixManifests(networks, vms), ...matrixManifests(networks, vms + 1) };
  for (let i = 0; i < Math.min(networks, 10); i++) files[`net-${i}.yaml`] = files[`net-${i}.yaml`]!.replace(`fault matrix ${i}`, `fault matrix ${i} (follow-up)`);
  return files;
}

/** Whether xops' secret for the SMB SR and every PBD's copy hold `value` (a rotation that converged). */
function secretsHold(sim: Simulator, value: string): boolean {
  const sr = [...sim.db.all('SR')].find((o) => o.rec.name_label === 'fm-smb');
  if (!sr) return false;
  const own = [...sim.db.all('secret')].filter((o) => (o.rec.other_config as Record<string, string>)['xops.managed'] === 'SR/fm-smb');
  const copies = (sr.rec.PBDs as string[]).map((p) => String((sim.db.record(p).device_config as Record<string, string>).password_secret));
  return own.length === 1 && own[0]!.rec.value === value && copies.every((uuid) => {
    const ref = sim.db.refByUuid('secret', uuid);
    return ref !== undefined && sim.db.record(ref).value === value;
  });
}

/**
 * Runs one row: a fresh pool and controller; the fault during the first commit's apply (at its fifth
 * action), then, once converged, during a follow-up commit's (at its third); the checks after each.
 * `cliPlan: false` leaves out the final `xops plan --detailed-exitcode` (the same planner already found
 * nothing to do); `followUp: false` stops after the first commit.
 */
export async function runFaultCase(
  c: FaultCase,
  opts: { networks?: number; vms?: number; limitMs?: number; cliPlan?: boolean; followUp?: boolean } = {},
): Promise<FaultResult> {
  const limitMs = opts.limitMs ?? 60_000;
  const [networks, vms] = [opts.networks ?? 26, opts.vms ?? 6];
  const sim = await startSimulator({ port: 0, seed: 'demo' });
  const dir = mkdtempSync(join(tmpdir(), 'xops-fault-matrix-'));
  const log: string[] = [];
  const problems: string[] = [];
  const convergeMs: FaultResult['convergeMs'] = {};
  let client: XapiClient | undefined;
  let controller: Awaited<ReturnType<typeof startController>> | undefined;
  const priorSecret = process.env[SECRET_ENV];
  let value: string = SECRET_VALUES[0];
  process.env[SECRET_ENV] = value;
  const write = (files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  };
  // The fault goes in when the armed action starts; it is cleared once used up and holdMs has passed.
  let started = 0;
  let armed: { at: number; fault: FaultSpec } | undefined;
  let injectedAt: number | undefined;
  let clearedAt: number | undefined;
  const clearWhenDone = (label: string) => {
    if (injectedAt === undefined || clearedAt !== undefined) return;
    const held = performance.now() - injectedAt;
    const unused = sim.faults.state().rules.length > 0;
    if (held < c.holdMs || (unused && held < USE_UP_LIMIT_MS)) return;
    if (unused) problems.push(`${label} commit: the fault was not used up within ${USE_UP_LIMIT_MS / 1000} s (no matching call)`);
    sim.faults.clear();
    clearedAt = performance.now();
  };
  try {
    write(matrixManifests(networks, vms));
    const before = unmanagedFingerprint(sim);
    const knownHosts = sim.hostUrls.filter(Boolean).map((u) => new URL(u).hostname);
    client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', knownHosts, ...clientDeadlines });
    const phase = async (label: 'first' | 'followUp', at: number, fault: FaultSpec): Promise<boolean> => {
      injectedAt = undefined;
      clearedAt = undefined;
      armed = { at: started + at, fault };
      const deadline = performance.now() + limitMs;
      // Converged: a plan of the pool has nothing left, nothing is wrong, and the secrets hold the value.
      let remaining: string[] = ['not checked yet'];
      while (performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        clearWhenDone(label);
        if (clearedAt === undefined) continue;
        remaining = await poolProblems(sim, dir, before, REPO, masterUrl(sim)).catch((err: unknown) => [`check failed: ${String(err)}`]);
        if (remaining.length === 0 && !secretsHold(sim, value)) remaining = ['the SMB SR\'s secrets do not hold the declared password'];
        if (remaining.length === 0) break;
      }
      if (injectedAt === undefined) problems.push(`${label} commit: the fault was never injected (fewer than ${at} actions started)`);
      if (remaining.length === 0 && clearedAt !== undefined) convergeMs[label] = performance.now() - clearedAt;
      problems.push(...remaining.map((p) => `${label} commit: not converged within ${limitMs / 1000} s: ${p}`));
      return remaining.length === 0;
    };
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
          if (++started !== armed?.at || injectedAt !== undefined) return;
          sim.faults.inject(armed.fault);
          injectedAt = performance.now();
        },
      },
    });
    if ((await phase('first', 5, c.fault)) && opts.followUp !== false) {
      value = SECRET_VALUES[1];
      process.env[SECRET_ENV] = value;
      const next = phase('followUp', 3, c.followUpFault ?? c.fault);
      write(followUpManifests(networks, vms));
      await next;
    }
    const shown = [log.join(''), await (await fetch(`${controller.url}/status`)).text(), await (await fetch(`${controller.url}/metrics`)).text()];
    const stopped = await bounded(controller.stop(), STOP_LIMIT_MS);
    controller = undefined;
    if (!stopped) problems.push(`the controller did not stop within ${STOP_LIMIT_MS / 1000} s`);
    if (opts.cliPlan !== false) {
      const plan = await cliPlanExit(sim, dir, value);
      if (plan.code !== 0) problems.push(`xops plan --detailed-exitcode exited ${plan.code}: ${plan.out.trim().split('\n').slice(0, 6).join(' | ')}`);
      shown.push(plan.out);
    }
    if (shown.some((text) => SECRET_VALUES.some((v) => text.includes(v)))) problems.push('an SMB secret value appears in a log, /status, /metrics or plan output');
    return { name: c.name, convergeMs, problems };
  } finally {
    if (controller) await bounded(controller.stop().catch(() => undefined), STOP_LIMIT_MS);
    await client?.close().catch(() => undefined);
    sim.faults.clear();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
    if (priorSecret === undefined) delete process.env[SECRET_ENV];
    else process.env[SECRET_ENV] = priorSecret;
  }
}

/** The matrix as a table, one row per fault: time to converge after the clear, per commit, or what went wrong. */
export function matrixTable(results: readonly FaultResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length), 5);
  const cell = (ms: number | undefined) => (ms === undefined ? 'FAILED' : `${(ms / 1000).toFixed(1)} s`).padEnd(14);
  const lines = [`${'fault'.padEnd(width)}  first commit  follow-up`, `${'-'.repeat(width)}  ------------  ---------`];
  for (const r of results) lines.push(`${r.name.padEnd(width)}  ${cell(r.convergeMs.first)}${cell(r.convergeMs.followUp)}${r.problems.length ? `${r.problems.length} problem(s)` : ''}`.trimEnd());
  return lines.join('\n') + '\n';
}

/** `npm run soak` (after the kill soak): every fault in FAULT_CASES. */
export async function benchFaultMatrix(): Promise<void> {
  const results: FaultResult[] = [];
  for (const c of FAULT_CASES) {
    const r = await runFaultCase(c);
    results.push(r);
    process.stdout.write(`${r.name}: ${r.problems.length ? `${r.problems.length} problem(s)` : 'converged'}\n`);
  }
  process.stdout.write(`\nFault matrix (${FAULT_CASES.length} faults, each injected while a controller applies 33 actions, then 12 more; time to converge after the fault cleared):\n${matrixTable(results)}`);
  for (const r of results) for (const p of r.problems) process.stdout.write(`  - ${r.name}: ${p}\n`);
  if (results.some((r) => r.problems.length > 0)) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchFaultMatrix().catch((err: unknown) => {
    process.stderr.write(`fault matrix failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
