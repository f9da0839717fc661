/**
 * XAPI client reply decoding, side by side with the floor (the same bytes read whole and given to
 * plain JSON.parse), at 10k VMs (`XOPS_BENCH_VMS` to change):
 *
 * - decode only (CPU time): a captured `VM.get_all_records` body fed to the client's decoder in 64 KB chunks,
 *   as the socket delivers it, against Buffer.concat + toString + JSON.parse of the same bytes; also
 *   with one int beyond 2^53 in the reply (the int64-exact path), and for XML-RPC.
 * - over HTTP: `client.call('VM.get_all_records')` against the simulator in a child process, against
 *   a bare keep-alive POST + JSON.parse; with the longest event-loop stall during the call.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startSimulator } from '../src/sim/index.js';
import { XapiClient } from '../src/xapi/client.js';
import { HttpAgents, post, readText } from '../src/xapi/http.js';
import { JsonReplyDecoder } from '../src/xapi/json-reply-decoder.js';
import { XmlRpcResponseDecoder } from '../src/xapi/xmlrpc-decoder.js';
import { startSimChild } from './observe.js';

const VMS = Number(process.env.XOPS_BENCH_VMS ?? 10000);
const REPS = 5;
const CHUNK = 64 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Median CPU time of `fn` in ms: on a shared machine wall time mostly measures the neighbours, and
 * decoding is pure CPU work in this thread (plus the GC it causes).
 */
function time(fn: () => unknown): number {
  const samples: number[] = [];
  fn(); // warm-up
  for (let i = 0; i < REPS; i++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    samples.push((c.user + c.system) / 1000);
  }
  return median(samples);
}

function chunks(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += CHUNK) out.push(body.subarray(i, i + CHUNK));
  return out;
}

async function capture(): Promise<{ json: Buffer; xml: Buffer }> {
  const sim = await startSimulator({ port: 0, vms: VMS, multiHost: false });
  try {
    const rpc = async (path: string, body: string, type: string) =>
      Buffer.from(await (await fetch(sim.url + path, { method: 'POST', body, headers: { 'content-type': type } })).arrayBuffer());
    const login = JSON.parse(
      (await rpc('/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'session.login_with_password', params: ['root', 'xops'], id: 1 }), 'application/json')).toString(),
    ) as { result: string };
    const json = await rpc('/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method: 'VM.get_all_records', params: [login.result], id: 2 }), 'application/json');
    const xml = await rpc('/', `<?xml version="1.0"?><methodCall><methodName>VM.get_all_records</methodName><params><param><value>${login.result}</value></param></params></methodCall>`, 'text/xml');
    return { json, xml };
  } finally {
    await sim.stop();
  }
}

function row(label: string, mb: number, floorMs: number, ms: number): string {
  return `${label.padEnd(34)} ${mb.toFixed(1).padStart(6)} MB  floor ${floorMs.toFixed(0).padStart(5)} ms  client ${ms.toFixed(0).padStart(5)} ms  ratio ${(ms / floorMs).toFixed(2)}\n`;
}

export async function benchXapi(): Promise<void> {
  const { json, xml } = await capture();
  // The same reply with one memory figure beyond 2^53, which must come out exact.
  const text = json.toString('utf8');
  const big = Buffer.from(text.replace(/"memory_static_max":\d+/, '"memory_static_max":9223372036854775807'), 'utf8');
  const jsonFloor = (b: Buffer) => () => JSON.parse(Buffer.concat(chunks(b)).toString('utf8'));
  const jsonClient = (b: Buffer) => () => {
    const d = new JsonReplyDecoder();
    for (const c of chunks(b)) d.write(c);
    return d.end();
  };
  const xmlClient = () => {
    const d = new XmlRpcResponseDecoder();
    for (const c of chunks(xml)) d.write(c);
    return d.end();
  };
  process.stdout.write(`decode only, VM.get_all_records of ${VMS} extra VMs, 64 KB chunks (CPU ms, median of ${REPS})\n`);
  process.stdout.write(row('JSON-RPC', json.length / 1e6, time(jsonFloor(json)), time(jsonClient(json))));
  process.stdout.write(row('JSON-RPC, one int beyond 2^53', big.length / 1e6, time(jsonFloor(big)), time(jsonClient(big))));
  process.stdout.write(row('XML-RPC (floor: JSON.parse of JSON)', xml.length / 1e6, time(jsonFloor(json)), time(xmlClient)));

  const sim = await startSimChild(VMS);
  try {
    const agents = new HttpAgents({ maxSockets: 4 });
    const base = new URL(sim.url);
    const bare = async (method: string, params: unknown[]) =>
      (JSON.parse(
        await post(agents, { url: new URL('/jsonrpc', base), body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }), contentType: 'application/json', method, timeoutMs: 120_000 }, readText),
      ) as { result: unknown }).result;
    const session = await bare('session.login_with_password', ['root', 'xops']);
    const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', transport: 'jsonrpc' });
    const floors: number[] = [];
    const calls: number[] = [];
    let stall = 0;
    await bare('VM.get_all_records', [session]);
    await client.call('VM.get_all_records');
    for (let i = 0; i < REPS; i++) {
      let t0 = performance.now();
      await bare('VM.get_all_records', [session]);
      floors.push(performance.now() - t0);
      const h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      t0 = performance.now();
      await client.call('VM.get_all_records');
      calls.push(performance.now() - t0);
      h.disable();
      stall = Math.max(stall, h.max / 1e6);
    }
    await client.close();
    agents.destroy();
    process.stdout.write(`\nover HTTP, simulator in a child process (wall ms, median of ${REPS})\n`);
    process.stdout.write(row('JSON-RPC VM.get_all_records', json.length / 1e6, median(floors), median(calls)).trimEnd() + `  max stall ${stall.toFixed(0)} ms\n`);
  } finally {
    await sim.stop();
  }
}
