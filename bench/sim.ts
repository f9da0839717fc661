/**
 * Simulator benchmark: VM.get_all_records at 1k and 10k extra VMs over both transports. Reports the wall time of
 * one call as a client sees it (request to last byte, no client-side parsing), cold (records encoded for the first
 * time) and warm (encodings cached per object version), and the payload size.
 */
import { startSimulator } from '../src/sim/index.js';

async function rpc(url: string, body: string, contentType: string): Promise<{ ms: number; bytes: number; text: string }> {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': contentType } });
  const text = await res.text();
  return { ms: performance.now() - t0, bytes: Buffer.byteLength(text), text };
}

const xmlCall = (method: string, params: string[]): string =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value>${p}</value></param>`).join('')}</params></methodCall>`;

const fmtMB = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

export async function benchSim(): Promise<void> {
  const rows: string[][] = [['VMs', 'seed', 'transport', 'cold', 'warm', 'payload']];
  for (const extra of [1000, 10000]) {
    const t0 = performance.now();
    const sim = await startSimulator({ port: 0, vms: extra, multiHost: false });
    const seedMs = performance.now() - t0;
    try {
      const login = await rpc(`${sim.url}/jsonrpc`, JSON.stringify({ jsonrpc: '2.0', method: 'session.login_with_password', params: ['root', 'xops'], id: 1 }), 'application/json');
      const session = (JSON.parse(login.text) as { result: string }).result;
      const total = sim.db.count('VM');
      for (const transport of ['xml-rpc', 'json-rpc'] as const) {
        const call = (): Promise<{ ms: number; bytes: number; text: string }> =>
          transport === 'xml-rpc'
            ? rpc(sim.url, xmlCall('VM.get_all_records', [session]), 'text/xml')
            : rpc(`${sim.url}/jsonrpc`, JSON.stringify({ jsonrpc: '2.0', method: 'VM.get_all_records', params: [session], id: 2 }), 'application/json');
        const cold = await call();
        let warm = Infinity;
        for (let i = 0; i < 3; i++) warm = Math.min(warm, (await call()).ms);
        rows.push([String(total), `${seedMs.toFixed(0)} ms`, transport, `${cold.ms.toFixed(0)} ms`, `${warm.toFixed(0)} ms`, fmtMB(cold.bytes)]);
      }
    } finally {
      await sim.stop();
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ') + '\n');
}
