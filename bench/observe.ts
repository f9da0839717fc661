/**
 * Cold-snapshot and event-latency figures for src/observe against the simulator (run in a child
 * process, so the RSS and event-loop stalls measured here are the client's alone).
 *
 * For each pool size and transport: the snapshot's wall time, its XAPI call count, RSS after it, the
 * longest event-loop stall during it, and the floor (the same get_all_records replies fetched and
 * parsed with nothing else: no session handling, limiter, int decoding or maps), with the ratio
 * snapshot/floor. Then the p95 latency from an out-of-band change to the observer seeing it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { OBSERVED_CLASSES } from '../src/model/observed.js';
import { PoolObserver, takeSnapshot } from '../src/observe/index.js';
import { XapiClient } from '../src/xapi/client.js';
import { HttpAgents, post, readText } from '../src/xapi/http.js';
import { XmlRpcResponseDecoder } from '../src/xapi/xmlrpc-decoder.js';

const CHILD_FLAG = 'XOPS_OBSERVE_BENCH_SIM';
const RSS_FLAG = 'XOPS_OBSERVE_BENCH_RSS';
// Overridable for a quick look: XOPS_BENCH_VMS=1000 XOPS_BENCH_TRANSPORTS=xmlrpc
const SIZES = (process.env.XOPS_BENCH_VMS ?? '1000,10000').split(',').map(Number);
const TRANSPORTS = (process.env.XOPS_BENCH_TRANSPORTS ?? 'jsonrpc,xmlrpc').split(',') as ('jsonrpc' | 'xmlrpc')[];
const progress = (msg: string) => {
  if (process.env.XOPS_BENCH_VERBOSE) process.stderr.write(`[observe] ${msg}\n`);
};
const REPS = 3;
const LATENCY_SAMPLES = 40;

export interface SimHandle {
  url: string;
  child: ChildProcess;
  simCalls(): Promise<number>;
  stop(): Promise<void>;
}

/** A simulator with `vms` extra VMs in a child process, so its encoding work is not measured here. */
export async function startSimChild(vms: number): Promise<SimHandle> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [CHILD_FLAG]: String(vms) }, stdio: 'inherit' });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`simulator child exited (${code})`)));
  });
  const ask = <T>(msg: string) =>
    new Promise<T>((resolve) => {
      child.once('message', (m: T) => resolve(m));
      child.send(msg);
    });
  return {
    url,
    child,
    simCalls: () => ask<number>('calls'),
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.send('stop');
      await exited;
    },
  };
}

async function runSimChild(vms: number): Promise<void> {
  const { startSimulator } = await import('../src/sim/index.js');
  const sim = await startSimulator({ port: 0, seed: 'demo', vms });
  process.on('message', async (m: string) => {
    if (m === 'calls') process.send!(sim.stats.total);
    if (m === 'stop') {
      await sim.stop();
      process.exit(0);
    }
  });
  process.send!({ url: sim.url });
}

/**
 * RSS of a fresh process that connects, takes one snapshot and holds it: what `xops plan` costs.
 * (The benchmark process itself has also run floors and earlier sizes, which inflates its RSS.)
 */
async function rssInFreshProcess(url: string, transport: 'jsonrpc' | 'xmlrpc'): Promise<{ rssMb: number; heapMb: number }> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [RSS_FLAG]: `${transport} ${url}` }, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { rssMb: number; heapMb: number }) => resolve(m));
    child.once('exit', (code) => reject(new Error(`RSS child exited (${code})`)));
  });
}

async function runRssChild(spec: string): Promise<void> {
  const [transport, url] = spec.split(' ') as ['jsonrpc' | 'xmlrpc', string];
  const client = await XapiClient.connect({ url, user: 'root', password: 'xops', transport });
  const state = await takeSnapshot(client);
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
  process.send!({ rssMb, heapMb, vms: state.records.VM.size });
  await client.close();
  process.exit(0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
}

/**
 * The floor: the same requests on a keep-alive connection, each body read whole and parsed with the
 * plainest decoder (JSON.parse; for XML-RPC our decoder over the whole text), nothing else.
 */
async function floorOnce(url: string, kind: 'jsonrpc' | 'xmlrpc', agents: HttpAgents): Promise<number> {
  const base = new URL(url);
  const rpc = async (method: string, params: unknown[]): Promise<unknown> => {
    const json = kind === 'jsonrpc';
    const body = json
      ? JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 })
      : `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params
          .map((p) => `<param><value>${typeof p === 'number' ? `<double>${p}</double>` : Array.isArray(p) ? `<array><data>${p.map((x) => `<value>${x}</value>`).join('')}</data></array>` : p}</value></param>`)
          .join('')}</params></methodCall>`;
    const text = await post(
      agents,
      { url: new URL(json ? '/jsonrpc' : '/', base), body, contentType: json ? 'application/json' : 'text/xml', method, timeoutMs: 120_000 },
      readText,
    );
    if (json) return (JSON.parse(text) as { result: unknown }).result;
    const d = new XmlRpcResponseDecoder();
    d.write(text);
    return (d.end().value as { Value: unknown }).Value;
  };
  const session = await rpc('session.login_with_password', ['root', 'xops', '1.1', 'bench']);
  const t0 = performance.now();
  await rpc('event.from', [session, ['pool'], '', 0.001]);
  await Promise.all(OBSERVED_CLASSES.map((cls) => rpc(`${cls}.get_all_records`, [session])));
  const ms = performance.now() - t0;
  await rpc('session.logout', [session]);
  return ms;
}

interface SnapshotFigures {
  ms: number;
  calls: number;
  simCalls: number;
  stallMs: number;
  rssMb: number;
}

async function snapshotOnce(sim: SimHandle, transport: 'jsonrpc' | 'xmlrpc'): Promise<SnapshotFigures> {
  const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', transport });
  const callsBefore = client.stats.calls;
  const simBefore = await sim.simCalls();
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t0 = performance.now();
  const state = await takeSnapshot(client);
  const ms = performance.now() - t0;
  h.disable();
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const figures = {
    ms,
    calls: client.stats.calls - callsBefore,
    simCalls: (await sim.simCalls()) - simBefore,
    stallMs: h.max / 1e6,
    rssMb,
  };
  if (state.records.VM.size < 10) throw new Error('snapshot unexpectedly small');
  await client.close();
  return figures;
}

/** p95 of: a second client changes a VM -> the observer emits the change for it. */
async function changeLatency(url: string, transport: 'jsonrpc' | 'xmlrpc'): Promise<{ p95: number; median: number }> {
  const observed = await XapiClient.connect({ url, user: 'root', password: 'xops', transport });
  const writer = await XapiClient.connect({ url, user: 'root', password: 'xops', transport });
  const observer = new PoolObserver(observed);
  const state = await observer.start();
  const vms = [...state.records.VM].filter(([, v]) => !v.is_a_template && !v.is_control_domain).map(([ref]) => ref);
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const ref = vms[(i * 7919) % vms.length]!;
    const value = `bench-${transport}-${Date.now()}-${i}`;
    const seen = new Promise<number>((resolve) => {
      const onChange = (c: { cls: string; ref: string }) => {
        if (c.cls === 'VM' && c.ref === ref && observer.current().records.VM.get(ref)?.name_description === value) {
          observer.off('change', onChange);
          resolve(performance.now());
        }
      };
      observer.on('change', onChange);
    });
    const t0 = performance.now();
    await writer.call('VM.set_name_description', ref, value);
    samples.push((await seen) - t0);
  }
  await observer.stop();
  await observed.close();
  await writer.close();
  return { p95: p95(samples), median: median(samples) };
}

export async function benchObserve(): Promise<void> {
  const fmt = (n: number, d = 0) => n.toFixed(d).padStart(8);
  process.stdout.write(
    'VMs     transport  snapshot-ms  floor-ms  ratio  calls(client/sim)  max-stall-ms  rss-MB (fresh process)              change-p95-ms (median)\n',
  );
  for (const vms of SIZES) {
    const sim = await startSimChild(vms);
    try {
      for (const kind of TRANSPORTS) {
        const agents = new HttpAgents({ maxSockets: 20 });
        progress(`${vms} ${kind}: warm-up`);
        await floorOnce(sim.url, kind, agents); // warm-up: JIT, sockets, the simulator's encoders
        const floors: number[] = [];
        const snaps: SnapshotFigures[] = [];
        for (let r = 0; r < REPS; r++) {
          progress(`${vms} ${kind}: floor ${r}`);
          floors.push(await floorOnce(sim.url, kind, agents));
          progress(`${vms} ${kind}: snapshot ${r}`);
          snaps.push(await snapshotOnce(sim, kind));
        }
        agents.destroy();
        const snapMs = median(snaps.map((s) => s.ms));
        const floorMs = median(floors);
        const worst = snaps.reduce((a, b) => (b.stallMs > a.stallMs ? b : a));
        progress(`${vms} ${kind}: RSS in a fresh process`);
        const mem = await rssInFreshProcess(sim.url, kind);
        progress(`${vms} ${kind}: change latency`);
        const lat = await changeLatency(sim.url, kind);
        process.stdout.write(
          `${String(vms).padEnd(7)} ${kind.padEnd(9)} ${fmt(snapMs)}    ${fmt(floorMs)}  ${(snapMs / floorMs).toFixed(2)}  ` +
            `${snaps[0]!.calls}/${snaps[0]!.simCalls}`.padStart(17) +
            `  ${fmt(worst.stallMs)}    ${fmt(mem.rssMb)} (heap ${mem.heapMb.toFixed(0)}, bench process ${Math.max(...snaps.map((s) => s.rssMb)).toFixed(0)})  ${fmt(lat.p95, 1)} (${lat.median.toFixed(1)})\n`,
        );
      }
    } finally {
      await sim.stop();
    }
  }
}

if (process.env[CHILD_FLAG]) void runSimChild(Number(process.env[CHILD_FLAG]));
if (process.env[RSS_FLAG]) void runRssChild(process.env[RSS_FLAG]);
