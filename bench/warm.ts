/**
 * Plans at the speed of the wire (issue 20), whole processes side by side, at 1k and 10k VMs
 * (`XOPS_BENCH_50K=1` adds 50k):
 *
 * - floor: log in, fetch one get_all_records per class a plan reads, in parallel, and parse them;
 * - cold: `xops plan DIR` against the pool (JSON-RPC, and XML-RPC against its own floor);
 * - warm: `xops plan DIR --server URL` against a running controller (`xops run`) fed by events;
 * - xo: Xen Orchestra's client (npm `xen-api`) loading the same pool.
 *
 * DIR holds a manifest for every VM (written by `xops export`, then marked xops' own in the pool),
 * one of them changed. Each process carries a probe (`--import`) reporting its peak RSS and longest
 * event-loop stall. The controller's CPU time for one warm plan is the steady-state reconcile's
 * planning cost from the cache. Medians of REPS runs; the machine's load (`uptime`) is printed.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { markScaleVmsManaged } from './plan.js';

const CHILD_FLAG = 'XOPS_WARM_BENCH_SIM';
const REPS = Number(process.env.XOPS_BENCH_REPS ?? 3);
const HERE = fileURLToPath(new URL('.', import.meta.url));
const CLI = join(HERE, '../src/cli.js');
const PROBE = join(HERE, 'warm/probe.js');

interface Run {
  ms: number;
  rssMiB: number;
  maxStallMs: number;
  code: number | null;
  stderr: string;
}

async function runSimChild(vms: number): Promise<void> {
  const { startSimulator } = await import('../src/sim/index.js');
  const sim = await startSimulator({ port: 0, seed: 'demo', vms, multiHost: false });
  process.on('message', async (m: string) => {
    if (m === 'mark') {
      markScaleVmsManaged(sim);
      process.send!('marked');
    }
    if (m === 'stop') {
      await sim.stop();
      process.exit(0);
    }
  });
  process.send!({ url: sim.url });
}

function startSimChild(vms: number): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [CHILD_FLAG]: String(vms) }, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve({ url: m.url, child }));
    child.once('exit', (code) => reject(new Error(`simulator child exited (${code})`)));
  });
}

/** Runs `node --import probe ARGS` to completion: wall time from spawn to exit, and what the probe saw. */
function timed(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const probeOut = join(tmpdir(), `xops-probe-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', PROBE, ...args], { env: { ...process.env, ...env, XOPS_PROBE_OUT: probeOut }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      let probe = { rssMiB: NaN, maxStallMs: NaN };
      try {
        probe = JSON.parse(readFileSync(probeOut, 'utf8'));
        rmSync(probeOut);
      } catch {
        // killed before exit: no probe figures
      }
      resolve({ ms, code, stderr, ...probe });
    });
  });
}

async function median(label: string, fn: () => Promise<Run>): Promise<Run> {
  const runs: Run[] = [];
  for (let i = 0; i < REPS; i++) runs.push(await fn());
  const bad = runs.find((r) => r.code !== 0 && r.code !== 2);
  if (bad) process.stdout.write(`  (${label} exited ${bad.code}: ${bad.stderr.split('\n').slice(0, 3).join(' | ')})\n`);
  const mid = <K extends keyof Run>(k: K) => [...runs.map((r) => r[k] as number)].sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  return { ms: mid('ms'), rssMiB: mid('rssMiB'), maxStallMs: Math.max(...runs.map((r) => r.maxStallMs)), code: bad?.code ?? 0, stderr: '' };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url + '/healthz')).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the controller did not start');
}

/** `XOPS_BENCH_CPU_PROF=DIR`: the controller and the warm clients write V8 CPU profiles under DIR. */
function profileFlags(name: string): string[] {
  const dir = process.env.XOPS_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', join(dir, name)] : [];
}

function row(label: string, r: Run, floor?: number): string {
  const ratio = floor ? `  ${(r.ms / floor).toFixed(2)}x floor` : '';
  return `  ${label.padEnd(26)} ${r.ms.toFixed(0).padStart(6)} ms${ratio.padEnd(16)}  stall ${r.maxStallMs.toFixed(0).padStart(4)} ms  RSS ${r.rssMiB.toFixed(0).padStart(4)} MiB\n`;
}

/** A pool of `vms` scale VMs (simulator child), a folder with a manifest for each (one changed), and a controller watching the pool. */
export interface WarmScenario {
  url: string;
  dir: string;
  /** Connection flags for a cold `xops plan` against the pool. */
  conn: string[];
  /** The controller's address, and `xops plan DIR --server` arguments (without node flags) that plan through it. */
  server: string;
  warmArgs: string[];
  controller: ChildProcess;
  stop(): Promise<void>;
}

/** Builds the scenario (export, marks, token, controller) and waits until the controller answers. */
export async function warmScenario(vms: number): Promise<WarmScenario> {
  const work = mkdtempSync(join(tmpdir(), 'xops-warm-bench-'));
  const { url, child } = await startSimChild(vms);
  let controller: ChildProcess | undefined;
  const stop = async () => {
    controller?.kill('SIGTERM');
    if (controller && controller.exitCode === null) await new Promise((r) => controller!.once('exit', r));
    child.send('stop');
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const dir = join(work, 'manifests');
    const pw = join(work, 'password');
    writeFileSync(pw, 'xops\n');
    const conn = ['--xapi', url, '--user', 'root', '--password-file', pw];
    execFileSync(process.execPath, [CLI, 'export', '--dir', dir, '--kinds', 'VM', ...conn], { stdio: 'ignore' });
    await new Promise<void>((resolve) => {
      child.once('message', () => resolve());
      child.send('mark');
    });
    // The simulator's VMs record no template they came from: name the demo's, which only a create reads.
    const vmDir = join(dir, readdirSync(dir).includes('vms') ? 'vms' : '');
    const files = readdirSync(vmDir).filter((f) => f.endsWith('.yaml')).sort();
    for (const f of files) {
      // Only the scale VMs are xops' own; the demo's other VMs would be adoption conflicts.
      if (!f.startsWith('scale-vm-')) {
        rmSync(join(vmDir, f));
        continue;
      }
      const text = readFileSync(join(vmDir, f), 'utf8');
      // Exported before the marks, the disks are named by position; the marks call them disk0, disk1...
      const fixed = text.replace(/^(\s*template:) *(''|"")[^\n]*$/m, '$1 Debian Bookworm 12').replace(/^(\s*- name:) '(\d+)'$/gm, '$1 disk$2');
      if (fixed !== text) writeFileSync(join(vmDir, f), fixed);
    }
    // One resource changed: the first scale VM's manifest asks for two vCPUs more.
    const first = files.find((f) => f.startsWith('scale-vm-')) ?? files[0]!;
    writeFileSync(join(vmDir, first), readFileSync(join(vmDir, first), 'utf8').replace(/vcpus: (\d+)/, (_m, n: string) => `vcpus: ${Number(n) + 2}`));
    const token = join(work, 'token');
    writeFileSync(token, 'warm-bench-token-0123456789\n');
    const config = join(work, 'config.yaml');
    writeFileSync(config, `apiVersion: xops/v1\nkind: ControllerConfig\nhttp:\n  tokenFile: ${token}\n`);
    const empty = join(work, 'empty');
    execFileSync('mkdir', ['-p', empty]);

    const port = await freePort();
    const server = `http://127.0.0.1:${port}`;
    controller = spawn(process.execPath, [...profileFlags('controller'), CLI, 'run', '--repo', empty, ...conn, '--listen', `127.0.0.1:${port}`, '--config', config], { stdio: 'ignore' });
    await waitHealthy(server);
    const warmArgs = [CLI, 'plan', dir, '--out', 'json', '--server', server, '--token-file', token];
    await timed(warmArgs); // the controller's first plan takes its cold snapshot
    return { url, dir, conn, server, warmArgs, controller, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function benchSize(vms: number): Promise<void> {
  const sc = await warmScenario(vms);
  const { url, dir, conn, controller } = sc;
  const warmArgs = [...profileFlags('client'), ...sc.warmArgs];
  try {

    const floor = await median('floor', () => timed([join(HERE, 'warm/floor-child.js'), url, 'jsonrpc']));
    const cold = await median('cold', () => timed([CLI, 'plan', dir, '--out', 'json', '--transport', 'jsonrpc', ...conn]));
    const cpu0 = cpuMs(controller.pid!);
    const warm = await median('warm', () => timed(warmArgs));
    const controllerCpu = (cpuMs(controller.pid!) - cpu0) / REPS;
    const xo = await median('xen-api', () => timed([join(HERE, 'warm/xo-child.js'), url]));
    const xmlFloor = await median('xml floor', () => timed([join(HERE, 'warm/floor-child.js'), url, 'xmlrpc']));
    const xmlCold = await median('xml cold', () => timed([CLI, 'plan', dir, '--out', 'json', '--transport', 'xmlrpc', ...conn]));

    process.stdout.write(`${vms} VMs (median of ${REPS} whole processes):\n`);
    process.stdout.write(row('floor (JSON-RPC)', floor));
    process.stdout.write(row('cold xops plan (JSON-RPC)', cold, floor.ms));
    process.stdout.write(row('warm xops plan --server', warm, floor.ms));
    process.stdout.write(row("xen-api (XO's client) load", xo, floor.ms));
    process.stdout.write(`  warm / xen-api ${(warm.ms / xo.ms).toFixed(2)}; controller CPU per warm plan ${controllerCpu.toFixed(0)} ms\n`);
    process.stdout.write(row('floor (XML-RPC, no decode)', xmlFloor));
    process.stdout.write(row('cold xops plan (XML-RPC)', xmlCold, xmlFloor.ms));
  } finally {
    await sc.stop();
  }
}

export async function benchWarm(): Promise<void> {
  process.stdout.write(`load: ${execFileSync('uptime').toString().trim()}\n`);
  const sizes = process.env.XOPS_BENCH_SIZES ? process.env.XOPS_BENCH_SIZES.split(',').map(Number) : [1000, 10_000, ...(process.env.XOPS_BENCH_50K ? [50_000] : [])];
  for (const vms of sizes) await benchSize(vms);
  process.stdout.write(`load: ${execFileSync('uptime').toString().trim()}\n`);
}

if (process.env[CHILD_FLAG]) void runSimChild(Number(process.env[CHILD_FLAG]));
else if (process.argv[1] === fileURLToPath(import.meta.url)) void benchWarm().then(() => process.exit(0));
