/**
 * Plans at the speed of the wire (issue 20), whole processes side by side, at 1k and 10k VMs
 * (`npm run bench -- warm --50k`, or `XOPS_BENCH_50K=1`, adds 50k):
 *
 * - floor: log in, fetch one get_all_records per class a plan reads, in parallel, and parse them;
 * - cold: `xops plan DIR` against the pool (JSON-RPC, and XML-RPC against its own floor);
 * - warm: `xops plan CHECKOUT --server URL` against a running controller (`xops run`) fed by
 *   events, whose commit in force is REPO: CHECKOUT is a clone of REPO with one file changed (a
 *   pull request; only that file goes, cli/git-overlay.ts), a second row plans REPO itself (the
 *   commit in force), and a last one DIR, the same change in a folder that is no Git checkout
 *   (every file named by digest);
 * - xo: Xen Orchestra's client (npm `xen-api`) loading the same pool;
 * - reconcile: the controller's CPU for one reconcile after a commit changing one manifest of REPO,
 *   the median of REPS such commits after three more (a Git repository the controller fetches every second; `xops_last_reconcile_cpu_seconds`:
 *   process.cpuUsage around observe, load, plan and apply).
 *
 * REPO holds a manifest for every VM (written by `xops export`, the VMs marked xops' own in the
 * pool), so the controller starts in sync. Each process carries a probe (`--import`) reporting its
 * peak RSS, longest event-loop stall and CPU (all threads). Medians of REPS runs; the machine's load is printed.
 * `XOPS_BENCH_CPU_PROF=DIR` writes CPU profiles of the controller and the warm clients under DIR.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { git } from './git.js';
import { markScaleVmsManaged } from './plan.js';

const CHILD_FLAG = 'XOPS_WARM_BENCH_SIM';
const REPS = Number(process.env.XOPS_BENCH_REPS ?? 3);
/** Reconciles before the measured ones (see benchSize). */
const RECONCILE_WARMUP = 3;
const HERE = fileURLToPath(new URL('.', import.meta.url));
const CLI = join(HERE, '../src/cli.js');
const PROBE = join(HERE, 'warm/probe.js');

interface Run {
  ms: number;
  rssMiB: number;
  maxStallMs: number;
  /** CPU time of the whole process, all threads. */
  cpuMs: number;
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
      let probe = { rssMiB: NaN, maxStallMs: NaN, cpuMs: NaN };
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

/** The median of some figures (the upper one of an even count). */
function middle(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

async function median(label: string, fn: () => Promise<Run>): Promise<Run> {
  const runs: Run[] = [];
  for (let i = 0; i < REPS; i++) runs.push(await fn());
  const bad = runs.find((r) => r.code !== 0 && r.code !== 2);
  if (bad) process.stdout.write(`  (${label} exited ${bad.code}: ${bad.stderr.split('\n').slice(0, 3).join(' | ')})\n`);
  const mid = <K extends keyof Run>(k: K) => middle(runs.map((r) => r[k] as number));
  return { ms: mid('ms'), rssMiB: mid('rssMiB'), cpuMs: mid('cpuMs'), maxStallMs: Math.max(...runs.map((r) => r.maxStallMs)), code: bad?.code ?? 0, stderr: '' };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
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

/** The controller's metrics in the Prometheus text format. */
async function metricsOf(server: string, token: string): Promise<string> {
  // A connection the controller resets while it is busy is asked again, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(server + '/metrics', { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
      return await res.text();
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** One unlabelled (or summed) sample of a metric. */
function sample(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** Waits (bounded) until the controller has finished `count` reconciles. */
async function waitForReconciles(server: string, token: string, count: number): Promise<void> {
  // Every half second: rendering /metrics of 10,000 VMs costs the controller CPU too, inside the reconcile measured.
  for (let i = 0; i < 600; i++) {
    const text = await metricsOf(server, token).catch(() => '');
    if (sample(text, 'xops_reconciles_total') >= count) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the controller did not finish ${count} reconcile(s) within 300 s`);
}

/**
 * Waits (bounded) until the controller's history shows a reconcile of `commit` that applied, polling
 * `/history`, which costs it next to nothing: a `/metrics` scrape refills the pool gauges over every
 * VM, and one landing inside the reconcile measured was counted as its CPU. `count`: the reconciles
 * `/metrics` must show then (the metric read after it belongs to that reconcile).
 */
async function waitForCommitReconciled(server: string, token: string, commit: string, count: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(server + '/history', { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    const entries = res?.ok ? ((await res.json()) as { entries: { commit: string; actions: { succeeded: number } }[] }).entries : [];
    if (entries.some((e) => e.commit === commit && e.actions.succeeded > 0)) return waitForReconciles(server, token, count);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the controller did not reconcile ${commit} within 300 s`);
}

/** `XOPS_BENCH_CPU_PROF=DIR`: the controller and the warm clients write V8 CPU profiles under DIR. */
function profileFlags(name: string): string[] {
  const dir = process.env.XOPS_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', join(dir, name)] : [];
}

function row(label: string, r: Run, floor?: number): string {
  const ratio = floor ? `  ${(r.ms / floor).toFixed(2)}x floor` : '';
  return `  ${label.padEnd(26)} ${r.ms.toFixed(0).padStart(6)} ms${ratio.padEnd(16)}  stall ${r.maxStallMs.toFixed(0).padStart(4)} ms  RSS ${r.rssMiB.toFixed(0).padStart(4)} MiB  CPU ${r.cpuMs.toFixed(0).padStart(6)} ms\n`;
}

/** A pool of `vms` scale VMs (simulator child), a folder with a manifest for each (one changed), and a controller watching the pool. */
export interface WarmScenario {
  url: string;
  /** REPO with one VM's manifest changed (two vCPUs more). */
  dir: string;
  /** The controller's manifests folder (the commit in force), in sync with the pool. */
  repo: string;
  /** The file of `dir` that differs from `repo`, relative to both. */
  changed: string;
  /** The bearer token the controller's HTTP endpoints require. */
  token: string;
  /** A clone of REPO with the same change as DIR: what a pull-request check plans. */
  checkout: string;
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
    // Past the default repository limits (20,000 files, 1,000,000 YAML nodes), as an operator of
    // such a pool would: ten VMs per file, and the configuration's `repository:` raised.
    const large = vms > 15_000;
    if (large) packManifests(vmDir, files.filter((f) => f.startsWith('scale-vm-')), 10);
    if (large) files.splice(0, files.length, ...readdirSync(vmDir).filter((f) => f.endsWith('.yaml')).sort());
    // The commit in force: every VM as it is, in a Git repository the controller follows (as in
    // production: a folder source is for development, and its watcher rescans a 10,000-file folder
    // on every event). DIR: one resource changed, the first scale VM asks for two vCPUs more.
    const repo = join(work, 'repo');
    cpSync(dir, repo, { recursive: true });
    git(repo, 'init', '--quiet', '--initial-branch', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '--quiet', '-m', 'every VM as it is');
    const first = files.find((f) => f.startsWith('scale-vm-') || f.startsWith('pack-')) ?? files[0]!;
    const changed = join(vmDir, first).slice(dir.length + 1);
    // A pull-request check's checkout: a clone of the repository, the same change made in it.
    const checkout = join(work, 'checkout');
    git(work, 'clone', '--quiet', repo, checkout);
    for (const folder of [dir, checkout]) {
      const file = join(folder, changed);
      writeFileSync(file, readFileSync(file, 'utf8').replace(/vcpus: (\d+)/, (_m, n: string) => `vcpus: ${Number(n) + 2}`));
    }
    const token = join(work, 'token');
    writeFileSync(token, 'warm-bench-token-0123456789\n');
    const config = join(work, 'config.yaml');
    const repositoryLimits = large ? 'repository:\n  maxFiles: 100000\n  maxEntries: 1000000\n  maxTotalBytes: 1073741824\n  maxNodes: 50000000\n' : '';
    writeFileSync(config, `apiVersion: xops/v1\nkind: ControllerConfig\nhttp:\n  tokenFile: ${token}\n${repositoryLimits}`);

    const port = await freePort();
    const server = `http://127.0.0.1:${port}`;
    controller = spawn(process.execPath, [...profileFlags('controller'), CLI, 'run', '--repo', repo, '--branch', 'main', '--interval', '1s', '--cache-dir', join(work, 'git-cache'), ...conn, '--listen', `127.0.0.1:${port}`, '--config', config], { stdio: 'ignore' });
    await waitHealthy(server);
    const bearer = readFileSync(token, 'utf8').trim();
    // Its first reconcile (cold snapshot, every manifest parsed) is behind it before anything is timed.
    await waitForReconciles(server, bearer, 1);
    const warmArgs = [CLI, 'plan', checkout, '--out', 'json', '--server', server, '--token-file', token];
    await timed(warmArgs);
    return { url, dir, checkout, repo, changed, token: bearer, conn: large ? [...conn, '--config', config] : conn, server, warmArgs, controller, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Joins the VM manifests `names` of `dir` into files of `per` documents each (`pack-NNNNN.yaml`). */
function packManifests(dir: string, names: string[], per: number): void {
  for (let i = 0; i < names.length; i += per) {
    const group = names.slice(i, i + per);
    writeFileSync(join(dir, `pack-${String(i / per).padStart(5, '0')}.yaml`), group.map((n) => readFileSync(join(dir, n), 'utf8')).join('\n---\n'));
    for (const n of group) rmSync(join(dir, n));
  }
}

/** What one size's run measured, for the growth table. */
interface SizeResult {
  vms: number;
  floor: Run;
  cold: Run;
  warm: Run;
  xo: Run;
  reconcileCpuMs: number;
}

async function benchSize(vms: number): Promise<SizeResult> {
  const sc = await warmScenario(vms);
  const { url, dir, conn, controller } = sc;
  const warmArgs = [...profileFlags('client'), ...sc.warmArgs];
  const inForceArgs = warmArgs.map((a) => (a === sc.checkout ? sc.repo : a));
  const digestArgs = warmArgs.map((a) => (a === sc.checkout ? dir : a));
  try {
    const floor = await median('floor', () => timed([join(HERE, 'warm/floor-child.js'), url, 'jsonrpc']));
    const cold = await median('cold', () => timed([CLI, 'plan', dir, '--out', 'json', '--transport', 'jsonrpc', ...conn]));
    // The controller's own account of each plan request (xops_plan_cpu_seconds_total): its periodic
    // reconciles and drift checks are not counted, as the process's CPU would count them.
    const planCpu = async () => {
      const text = await metricsOf(sc.server, sc.token);
      return { cpu: sample(text, 'xops_plan_cpu_seconds_total') * 1000, plans: sample(text, 'xops_plan_requests_total') };
    };
    const perPlan = (a: { cpu: number; plans: number }, b: { cpu: number; plans: number }) => (b.cpu - a.cpu) / Math.max(1, b.plans - a.plans);
    const cpu0 = await planCpu();
    // Each request is one the controller has not seen (as each push to a pull request is): the
    // changed VM asks for one vCPU more every time, so no whole-load result can be reused.
    const changedFile = join(sc.checkout, sc.changed);
    const changedText = readFileSync(changedFile, 'utf8');
    let bump = 0;
    const warm = await median('warm', () => {
      writeFileSync(changedFile, changedText.replace(/vcpus: (\d+)/, (_m, n: string) => `vcpus: ${Number(n) + ++bump}`));
      return timed(warmArgs);
    });
    const cpuWarm = await planCpu();
    const controllerCpu = perPlan(cpu0, cpuWarm);
    // What a pull-request check runs: the same, as a Markdown comment (no observed.objects on the wire).
    const markdownArgs = warmArgs.map((a) => (a === 'json' ? 'markdown' : a));
    const warmMarkdown = await median('warm markdown', () => {
      writeFileSync(changedFile, changedText.replace(/vcpus: (\d+)/, (_m, n: string) => `vcpus: ${Number(n) + ++bump}`));
      return timed(markdownArgs);
    });
    writeFileSync(changedFile, changedText);
    const markdownCpu = perPlan(cpuWarm, await planCpu());
    // The same change from a folder that is no Git checkout: every file named by its digest.
    const digestFile = join(dir, sc.changed);
    const digestText = readFileSync(digestFile, 'utf8');
    const warmDigests = await median('warm digests', () => {
      writeFileSync(digestFile, digestText.replace(/vcpus: (\d+)/, (_m, n: string) => `vcpus: ${Number(n) + ++bump}`));
      return timed(digestArgs);
    });
    writeFileSync(digestFile, digestText);
    const cpu1 = await planCpu();
    const inForce = await median('warm in force', () => timed(inForceArgs));
    const inForceCpu = perPlan(cpu1, await planCpu());
    const xo = await median('xen-api', () => timed([join(HERE, 'warm/xo-child.js'), url]));
    const xmlFloor = await median('xml floor', () => timed([join(HERE, 'warm/floor-child.js'), url, 'xmlrpc']));
    const xmlCold = await median('xml cold', () => timed([CLI, 'plan', dir, '--out', 'json', '--transport', 'xmlrpc', ...conn]));

    // Steady state: the commit in force gains the one change, then loses it again; the controller
    // reconciles (and applies) each. The first few after the runs above still pay for compiling the
    // reconcile's own code paths and for the garbage the cold plans left (some 150-300 ms, printed
    // too); the median of the REPS after them is what a running controller spends.
    const original = readFileSync(join(sc.repo, sc.changed));
    const changedBytes = readFileSync(join(dir, sc.changed));
    const reconcileCpus: number[] = [];
    let applied = 0;
    for (let i = 0; i < RECONCILE_WARMUP + REPS; i++) {
      const metricsBefore = await metricsOf(sc.server, sc.token);
      const before = sample(metricsBefore, 'xops_reconciles_total');
      writeFileSync(join(sc.repo, sc.changed), i % 2 === 0 ? changedBytes : original);
      git(sc.repo, 'commit', '--quiet', '-am', `one VM changed (${i + 1})`);
      await waitForCommitReconciled(sc.server, sc.token, git(sc.repo, 'rev-parse', 'HEAD'), before + 1);
      const after = await metricsOf(sc.server, sc.token);
      reconcileCpus.push(sample(after, 'xops_last_reconcile_cpu_seconds') * 1000);
      applied += sample(after, 'xops_actions_total') - sample(metricsBefore, 'xops_actions_total');
    }
    const measured = reconcileCpus.slice(RECONCILE_WARMUP);
    const reconcileCpuMs = middle(measured);

    process.stdout.write(`${vms} VMs (median of ${REPS} whole processes; load ${loadavg()}):\n`);
    process.stdout.write(row('floor (JSON-RPC)', floor));
    process.stdout.write(row('cold xops plan (JSON-RPC)', cold, floor.ms));
    process.stdout.write(row('warm, 1 file changed', warm, floor.ms));
    process.stdout.write(row('warm, commit in force', inForce, floor.ms));
    process.stdout.write(row('warm, 1 changed, markdown', warmMarkdown, floor.ms));
    process.stdout.write(row('warm, 1 changed, no Git', warmDigests, floor.ms));
    process.stdout.write(row("xen-api (XO's client) load", xo, floor.ms));
    process.stdout.write(`  cold / floor ${(cold.ms / floor.ms).toFixed(2)} (goal <= 1.3); warm / xen-api ${(warm.ms / xo.ms).toFixed(2)}, markdown ${(warmMarkdown.ms / xo.ms).toFixed(2)} (goal <= 0.15, i.e. ${(0.15 * xo.ms).toFixed(0)} ms; target 150 ms at 10k)\n`);
    process.stdout.write(`  controller CPU per warm plan: ${controllerCpu.toFixed(0)} ms (1 file changed), ${markdownCpu.toFixed(0)} ms (as Markdown), ${inForceCpu.toFixed(0)} ms (commit in force)\n`);
    process.stdout.write(`  one reconcile, one VM changed: ${reconcileCpuMs.toFixed(0)} ms CPU, median of ${measured.length} (${measured.map((c) => c.toFixed(0)).join(', ')}; the ${RECONCILE_WARMUP} before: ${reconcileCpus.slice(0, RECONCILE_WARMUP).map((c) => c.toFixed(0)).join(', ')}; target 50 ms at 10k; ${applied} action(s) applied)\n`);
    process.stdout.write(row('floor (XML-RPC, no decode)', xmlFloor));
    process.stdout.write(row('cold xops plan (XML-RPC)', xmlCold, xmlFloor.ms));
    process.stdout.write(`  XML-RPC cold / its floor ${(xmlCold.ms / xmlFloor.ms).toFixed(2)} (goal <= 2.5)\n`);
    return { vms, floor, cold, warm, xo, reconcileCpuMs };
  } finally {
    await sc.stop();
  }
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Per 1,000 VMs, so that linear growth reads as a flat column. */
function growthTable(results: SizeResult[]): string {
  const per = (ms: number, vms: number) => ((ms / vms) * 1000).toFixed(0).padStart(6);
  const lines = ['growth (ms per 1,000 VMs; flat columns = linear):', '     VMs   floor    cold    warm  xen-api  reconcile CPU   cold RSS MiB'];
  for (const r of results) {
    lines.push(`  ${String(r.vms).padStart(6)}  ${per(r.floor.ms, r.vms)}  ${per(r.cold.ms, r.vms)}  ${per(r.warm.ms, r.vms)}   ${per(r.xo.ms, r.vms)}         ${per(r.reconcileCpuMs, r.vms)}   ${r.cold.rssMiB.toFixed(0).padStart(6)}`);
  }
  return lines.join('\n') + '\n';
}

export async function benchWarm(): Promise<void> {
  process.stdout.write(`load: ${execFileSync('uptime').toString().trim()}\n`);
  const with50k = process.argv.includes('--50k') || Boolean(process.env.XOPS_BENCH_50K);
  const sizes = process.env.XOPS_BENCH_SIZES ? process.env.XOPS_BENCH_SIZES.split(',').map(Number) : [1000, 10_000, ...(with50k ? [50_000] : [])];
  const results: SizeResult[] = [];
  for (const vms of sizes) results.push(await benchSize(vms));
  process.stdout.write(growthTable(results));
  process.stdout.write(`load: ${execFileSync('uptime').toString().trim()}\n`);
}

if (process.env[CHILD_FLAG]) void runSimChild(Number(process.env[CHILD_FLAG]));
else if (process.argv[1] === fileURLToPath(import.meta.url)) void benchWarm().then(() => process.exit(0));
